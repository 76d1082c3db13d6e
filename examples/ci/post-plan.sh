#!/usr/bin/env bash
# Posts a csamctl plan to a pull request (GitHub) or a merge request (GitLab): one
# comment per part of the Markdown plan, each starting with its own marker
# `<!-- csamctl-plan part N -->`. On the next push the same comments are edited in
# place, and the comments of parts the new plan no longer has are deleted, so the
# request always shows exactly the latest plan. A refused or failed plan is posted too,
# with the reason, so that the request never shows an old plan as if it were current.
#
# Usage: post-plan.sh PLAN_MD STATUS [STDERR_FILE]
#   PLAN_MD      what `csamctl plan --format markdown` printed (may be missing or empty)
#   STDERR_FILE  what it printed on stderr (the reason, when it failed)
#   STATUS       its exit status: 0 no changes, 2 changes, 1 refused or failed;
#                `none` when the job failed before csamctl could plan (e.g. the build)
#
# The forge is CSAM_FORGE (github or gitlab), else guessed from GITHUB_ACTIONS/GITLAB_CI.
#   GitHub: GITHUB_API_URL, GITHUB_REPOSITORY, PR_NUMBER, GITHUB_TOKEN
#   GitLab: CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID, GITLAB_API_TOKEN
# CSAM_JOB_URL, when set, is linked from a failure comment. CSAM_DOCS_URL, when set, is
# where csamctl's docs/ directory is on the web (best: at the pinned revision); the plan's
# links to the rules (`docs/rules.md#r6`, relative to csamctl's repository) are made
# absolute with it, because a comment lives in another repository.
#
# Needs bash, curl and jq. The token is passed to curl in a header file (mode 0600),
# never on its command line.
set -euo pipefail

plan_md=${1:?usage: post-plan.sh PLAN_MD STATUS [STDERR_FILE]}
status=${2:?usage: post-plan.sh PLAN_MD STATUS [STDERR_FILE]}
stderr_file=${3:-}

forge=${CSAM_FORGE:-}
if [ -z "$forge" ]; then
  if [ -n "${GITHUB_ACTIONS:-}" ]; then forge=github
  elif [ -n "${GITLAB_CI:-}" ]; then forge=gitlab
  else echo "post-plan.sh: set CSAM_FORGE to github or gitlab" >&2; exit 1
  fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077
headers="$work/headers"
case "$forge" in
  github)
    : "${GITHUB_API_URL:?}" "${GITHUB_REPOSITORY:?}" "${PR_NUMBER:?}" "${GITHUB_TOKEN:?}"
    list_url="$GITHUB_API_URL/repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments"
    item_url="$GITHUB_API_URL/repos/$GITHUB_REPOSITORY/issues/comments"
    edit_method=PATCH
    printf 'Authorization: Bearer %s\nAccept: application/vnd.github+json\n' "$GITHUB_TOKEN" > "$headers"
    ;;
  gitlab)
    : "${CI_API_V4_URL:?}" "${CI_PROJECT_ID:?}" "${CI_MERGE_REQUEST_IID:?}" "${GITLAB_API_TOKEN:?}"
    list_url="$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID/notes"
    item_url="$list_url"
    edit_method=PUT
    printf 'PRIVATE-TOKEN: %s\n' "$GITLAB_API_TOKEN" > "$headers"
    ;;
  *) echo "post-plan.sh: unknown forge '$forge' (github or gitlab)" >&2; exit 1 ;;
esac

# One request; the response body on stdout. Fails the script on an HTTP error.
api() {
  local method=$1 url=$2 body=${3:-}
  local args=(--silent --show-error --fail --retry 3 -X "$method" -H "@$headers")
  if [ -n "$body" ]; then
    args+=(-H 'Content-Type: application/json' --data-binary "@$body")
  fi
  curl "${args[@]}" "$url"
}

# The parts: the plan is split at csamctl's part lines (`<!-- csamctl plan: part 2 of 3 -->`);
# a plan without them is one part.
mkdir "$work/parts"
if [ -s "$plan_md" ]; then
  awk -v dir="$work/parts" '
    BEGIN { n = 1 }
    /^<!-- csamctl plan: part [0-9]+ of [0-9]+ -->$/ { if (seen) n++; seen = 1 }
    { f = sprintf("%s/%06d.md", dir, n); print >> f; close(f) }
  ' "$plan_md"
  if [ -n "${CSAM_DOCS_URL:-}" ]; then
    for part in "$work"/parts/*.md; do
      docs=${CSAM_DOCS_URL%/} awk '{ gsub(/\]\(docs\//, "](" ENVIRON["docs"] "/"); print }' \
        "$part" > "$part.linked"
      mv "$part.linked" "$part"
    done
  fi
fi

# Why there is no plan, or why it was refused: csamctl's own words (the end of its
# stderr) in a part of its own, so that the plan's parts keep their size.
reason() {
  case "$status" in
    0|2) return 1 ;;
    none) printf '### csamctl plan failed\n\nThe job failed before csamctl plan ran (checkout, build or validation step).\n' ;;
    *)
      if [ -n "$(ls -A "$work/parts")" ]; then
        printf '### csamctl plan refused (exit %s)\n\n' "$status"
      else
        printf '### csamctl plan failed (exit %s)\n\nThere is no plan: csamctl stopped before it could make one.\n' "$status"
      fi
      if [ -n "$stderr_file" ] && [ -s "$stderr_file" ]; then
        printf '\nWhat it said:\n\n~~~~text\n'
        # The last 200 lines, at most 20,000 bytes; a line that would close the fence is
        # indented.
        tail -n 200 "$stderr_file" | tail -c 20000 | sed 's/^~~~~/ ~~~~/'
        printf '\n~~~~\n'
      fi
      ;;
  esac
  if [ -n "${CSAM_JOB_URL:-}" ]; then
    printf '\nThe job: %s\n' "$CSAM_JOB_URL"
  fi
}
count=$(find "$work/parts" -name '*.md' | wc -l)
if reason > "$work/reason.md"; then
  count=$((count + 1))
  mv "$work/reason.md" "$work/parts/$(printf '%06d' "$count").md"
fi

# The comments posted before, by part number (a comment with the old single marker
# `<!-- csamctl-plan -->` counts as part 0, so it is deleted).
: > "$work/existing"
page=1
while :; do
  api GET "$list_url?per_page=100&page=$page" > "$work/page.json"
  jq -r '.[] | select((.body // "") | startswith("<!-- csamctl-plan"))
         | "\(.id) \((.body | capture("^<!-- csamctl-plan part (?<n>[0-9]+) -->").n) // "0")"' \
    "$work/page.json" >> "$work/existing"
  [ "$(jq length "$work/page.json")" -ge 100 ] || break
  page=$((page + 1))
done

# Post or edit part by part, in order.
n=0
for part in "$work"/parts/*.md; do
  [ -e "$part" ] || continue
  n=$((n + 1))
  jq -Rs --arg marker "<!-- csamctl-plan part $n -->" '{body: ($marker + "\n" + .)}' \
    < "$part" > "$work/body.json"
  id=$(awk -v n="$n" '$2 == n { print $1; exit }' "$work/existing")
  if [ -n "$id" ]; then
    api "$edit_method" "$item_url/$id" "$work/body.json" > /dev/null
  else
    api POST "$list_url" "$work/body.json" > /dev/null
  fi
done

# Delete what is left of an earlier, longer plan (and duplicates of a part).
awk -v n="$n" '{ if ($2 < 1 || $2 > n || seen[$2]++) print $1 }' "$work/existing" |
  while read -r id; do
    api DELETE "$item_url/$id" > /dev/null
  done
echo "post-plan.sh: posted $n comment(s) on the $forge request"
