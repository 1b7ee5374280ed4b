#!/usr/bin/env python3
"""Embeds migrations/NNNN_name.sql into a C file: osc_migrations[] in version order."""
import os
import re
import sys


def c_bytes(text):
    """A brace-enclosed byte list: string literals this long exceed what C11 guarantees."""
    data = list(text.encode('utf-8')) + [0]
    rows = [', '.join(str(b) for b in data[i:i + 24]) for i in range(0, len(data), 24)]
    return '{\n    ' + ',\n    '.join(rows) + '\n}'


def main():
    output, inputs = sys.argv[1], sorted(sys.argv[2:], key=os.path.basename)
    rows = []
    for path in inputs:
        m = re.match(r'^(\d{4})_([a-z0-9_]+)\.sql$', os.path.basename(path))
        if not m:
            sys.exit(f'bad migration file name: {path}')
        with open(path, encoding='utf-8') as f:
            rows.append((int(m.group(1)), m.group(2), f.read()))
    versions = [r[0] for r in rows]
    if versions != list(range(1, len(rows) + 1)):
        sys.exit(f'migrations must be numbered 0001.. without gaps: {versions}')
    with open(output, 'w', encoding='utf-8') as f:
        f.write('/* Generated from migrations/ by scripts/embed_migrations.py. Do not edit. */\n')
        f.write('#include "oscred/migrate.h"\n\n')
        for version, name, sql in rows:
            f.write(f'static const char sql_{version:04d}[] = {c_bytes(sql)};\n\n')
        f.write('const struct osc_migration osc_migrations[] = {\n')
        for version, name, sql in rows:
            f.write(f'    {{{version}, "{name}", sql_{version:04d}}},\n')
        f.write('};\n')
        f.write(f'const int osc_migrations_count = {len(rows)};\n')


if __name__ == '__main__':
    main()
