#!/usr/bin/env python3
"""Print csamctl's module dependency matrix, computed from the paths in src/.

Every `use` item and every inline `crate::…`, `super::…` and `self::…` path is resolved
to the module it names; a row's `x` means the module's production code names that
column's module, `t` that only its tests do (`tests.rs` files and `#[cfg(test)] mod`
blocks). Comments are ignored.

    python3 tools/module_deps.py            # the top-level modules
    python3 tools/module_deps.py --registry # inside src/registry

ARCHITECTURE.md shows this script's output; re-run it after changing the imports.
"""
import collections
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, 'src')
REGISTRY = '--registry' in sys.argv


def module_path(path):
    parts = os.path.relpath(path, SRC)[:-3].split(os.sep)
    if parts[-1] == 'mod' or parts in (['lib'], ['main']):
        parts = parts[:-1]
    return parts


def strip_comments(text):
    text = re.sub(r'/\*.*?\*/', '', text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)  # strings may hold `//`
    return re.sub(r'//[^\n]*', '', text)


def split_tests(text):
    """The (production, test) parts of a file's text."""
    prod, test, i = [], [], 0
    for m in re.finditer(r'#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{', text):
        if m.start() < i:
            continue
        depth, j = 1, m.end()
        while depth and j < len(text):
            depth += {'{': 1, '}': -1}.get(text[j], 0)
            j += 1
        prod.append(text[i:m.start()])
        test.append(text[m.start():j])
        i = j
    prod.append(text[i:])
    return ''.join(prod), ''.join(test)


def expand(tree):
    """`a::{b, c::{d, self}}` → [a::b, a::c::d, a::c]."""
    tree = re.sub(r'\s+', '', tree)
    m = re.match(r'^(.*?)\{(.*)\}$', tree)
    if not m:
        return [tree]
    prefix, inner = m.group(1), m.group(2)
    items, depth, start = [], 0, 0
    for i, c in enumerate(inner):
        depth += {'{': 1, '}': -1}.get(c, 0)
        if c == ',' and depth == 0:
            items.append(inner[start:i])
            start = i + 1
    items.append(inner[start:])
    out = []
    for item in filter(None, items):
        for p in expand(item):
            out.append(prefix.rstrip(':') if p == 'self' else prefix + p)
    return out


def resolve(path, here):
    """A path as seen from module `here` → absolute module path (list), or None."""
    parts = [p for p in path.split('::') if p and p != '*']
    if not parts:
        return None
    if parts[0] in children(here):  # `mod api; pub use api::*;`
        return list(here) + parts
    if parts[0] == 'crate':
        base, rest = [], parts[1:]
    elif parts[0] in ('super', 'self'):
        base = list(here)
        rest = parts
        while rest and rest[0] in ('super', 'self'):
            if rest[0] == 'super':
                base = base[:-1]
            rest = rest[1:]
    else:
        return None  # an external crate, or a name in scope
    return base + rest


def children(here):
    d = os.path.join(SRC, *here)
    if not os.path.isdir(d):
        return set()
    return {f[:-3] if f.endswith('.rs') else f for f in os.listdir(d)} - {'mod'}


def group(abs_path):
    if not abs_path:
        return None
    if REGISTRY:
        if abs_path[0] != 'registry':
            return abs_path[0]
        if len(abs_path) > 1 and abs_path[1] in REGISTRY_SUBS:
            return 'registry::' + abs_path[1]
        return 'registry'
    return abs_path[0]


REGISTRY_SUBS = {f[:-3] if f.endswith('.rs') else f
                 for f in os.listdir(os.path.join(SRC, 'registry')) if f != 'mod.rs'}
TOP = {f[:-3] if f.endswith('.rs') else f for f in os.listdir(SRC)} - {'lib', 'main'}


def names(text, here):
    found = set()
    for tree in re.findall(r'\buse\s+(\w[^;]*);', text):
        for p in expand(re.sub(r'\s+as\s+\w+', '', tree)):
            found.add(group(resolve(p, here)))
    for p in re.findall(r'\b((?:crate|super|self)(?:::\w+)+)', text):
        found.add(group(resolve(p, here)))
    return found


prod = collections.defaultdict(set)
test = collections.defaultdict(set)
for d, _, files in os.walk(SRC):
    for f in sorted(files):
        if not f.endswith('.rs'):
            continue
        here = module_path(os.path.join(d, f))
        if not here:
            continue
        me = group(here)
        if REGISTRY and not me.startswith('registry'):
            continue
        text = strip_comments(open(os.path.join(d, f), encoding='utf-8').read())
        p_text, t_text = ('', text) if f == 'tests.rs' else split_tests(text)
        prod[me] |= names(p_text, here) - {me, None}
        test[me] |= names(t_text, here) - {me, None}

if REGISTRY:
    rows = ['registry'] + sorted('registry::' + s for s in REGISTRY_SUBS)
    cols = rows + sorted({t for r in rows for t in prod[r] | test[r]} - set(rows))
    label = lambda m: m.split('::')[-1]
else:
    order = ['model', 'parallel', 'config', 'diff', 'plan', 'safety', 'execute',
             'registry', 'render', 'import', 'cli']
    rows = cols = [m for m in order if m in TOP] + sorted(TOP - set(order))
    label = lambda m: m
width = max(len(r) for r in rows)
header = [label(c) for c in cols]
print('| uses → | ' + ' | '.join(f'`{h}`' for h in header) + ' |')
print('|---|' + '---|' * len(cols))
for r in rows:
    cells = ['x' if c in prod[r] else 't' if c in test[r] else '' for c in cols]
    cells = ['—' if c == r else cell for c, cell in zip(cols, cells)]
    print(f'| `{r}` | ' + ' | '.join(cells) + ' |')
