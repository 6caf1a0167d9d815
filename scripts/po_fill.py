"""Fill zh_Hans translations from a JSON file {msgid: msgstr}: `python scripts/po_fill.py t.json`.

Clears the fuzzy flag so Babel compiles the catalogue; prints the msgids still missing."""

import json
import sys

from babel.messages.pofile import read_po, write_po

path = "locale/zh_Hans/LC_MESSAGES/django.po"
T = json.load(open(sys.argv[1]))
with open(path, "rb") as f:
    cat = read_po(f, locale="zh_Hans")
missing = []
for m in cat:
    if not m.id:
        continue
    key = m.id if isinstance(m.id, str) else m.id[0]
    if key in T:
        m.string = T[key] if isinstance(m.id, str) else tuple(T[key] if isinstance(T[key], list) else [T[key]])
        m.flags.discard("fuzzy")
    elif not m.string or (isinstance(m.string, tuple) and not all(m.string)):
        missing.append(key)
cat.fuzzy = False
with open(path, "wb") as f:
    write_po(f, cat, width=100, omit_header=False)
print("missing:", missing)
