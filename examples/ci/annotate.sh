#!/usr/bin/env bash
# Turns `csamctl validate --format json` into GitHub Actions annotations, one per
# problem, on the line it is about:
#   ::error file=csam/a.yaml,line=12,col=7,title=csam%3A%3Asite%3A%3Aundeclared::message — help
# Workflow-command properties end at `::` and `,`, so a property's `%`, CR, LF, `:` and
# `,` are escaped (`%25 %0D %0A %3A %2C`); the message escapes `%`, CR and LF.
#
# Usage: annotate.sh DIAGNOSTICS_JSON
set -euo pipefail
jq -r '
  def data: gsub("%"; "%25") | gsub("\r"; "%0D") | gsub("\n"; "%0A");
  def property: tostring | data | gsub(":"; "%3A") | gsub(","; "%2C");
  .diagnostics[]
  | "::\(if .severity == "error" then "error" else "warning" end)"
    + " file=\(.file | property),line=\(.line | property),col=\(.column | property),title=\(.code | property)"
    + "::\((.message + (if (.help // "") != "" then " — " + .help else "" end)) | data)"
' "${1:?usage: annotate.sh DIAGNOSTICS_JSON}"
