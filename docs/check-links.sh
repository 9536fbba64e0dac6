#!/usr/bin/env bash
# Checks every relative markdown link in README.md and docs/*.md: the file exists and, for #anchors into
# markdown, a heading with that GitHub slug does. Run from anywhere: bash docs/check-links.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - README.md docs/*.md <<'PY'
import os, re, sys

def slugs(path):
    out, fence = set(), False
    for line in open(path, encoding='utf-8'):
        if line.startswith('```'):
            fence = not fence
        elif not fence and re.match(r'#+ ', line):
            h = re.sub(r'[`*]', '', line.lstrip('#').strip().lower())
            out.add(re.sub(r'[^\w\- ]', '', h).replace(' ', '-'))
    return out

bad = 0
for doc in sys.argv[1:]:
    text, fence, lines = open(doc, encoding='utf-8').read().split('\n'), False, []
    for n, line in enumerate(text, 1):
        if line.startswith('```'):
            fence = not fence
        elif not fence:
            lines.append((n, re.sub(r'`[^`]*`', '', line)))
    for n, line in lines:
        for target in re.findall(r'\]\(([^)\s]+)\)', line):
            if re.match(r'[a-z]+:', target):
                continue
            path, _, anchor = target.partition('#')
            full = os.path.normpath(os.path.join(os.path.dirname(doc), path)) if path else doc
            if not os.path.exists(full):
                print(f'{doc}:{n}: {target}: no such file'); bad += 1
            elif anchor and full.endswith('.md') and anchor not in slugs(full):
                print(f'{doc}:{n}: {target}: no such heading'); bad += 1
print(f'{bad} broken link(s)' if bad else 'all relative links resolve')
sys.exit(1 if bad else 0)
PY
