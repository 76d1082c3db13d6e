#!/usr/bin/env python3
"""Writes tests/data/stdnum-vectors.tsv: identifiers with python-stdnum's verdict.

csamctl's INSZ and KBO validity must agree exactly with python-stdnum
(stdnum.be.ssn, stdnum.be.vat). This script asks the reference implementation about
edge cases and random inputs; tests/identifiers_stdnum.rs checks csamctl against the
table. Run: pip install python-stdnum && python3 tools/stdnum_vectors.py

Valid INSZ vectors use serial numbers 997-998 only and carry no name: they identify
nobody in these tests. The current year is recorded, because stdnum decides the
post-2000 rule against today's date.
"""
import datetime
import random

from stdnum.be import ssn, vat

rng = random.Random(20261128)
year = datetime.date.today().year
rows = []


def check(nine, born_2000=False):
    n = int(("2" if born_2000 else "") + nine)
    return "%02d" % (97 - n % 97)


def insz(s):
    rows.append(("insz", s, "1" if ssn.is_valid(s) else "0",
                 ssn.compact(s) if ssn.is_valid(s) else ""))


def kbo(s):
    rows.append(("kbo", s, "1" if vat.is_valid(s) else "0",
                 vat.compact(s) if vat.is_valid(s) else ""))


# Every month component, for both centuries' check numbers.
for month in range(100):
    for yy, born_2000 in (("85", False), ("05", True)):
        nine = "%s%02d17%03d" % (yy, month, rng.choice([997, 998]))
        insz(nine + check(nine, born_2000))
# The post-2000 rule around the current year.
for yy in range(0, 100, 1):
    nine = "%02d0615997" % yy
    insz(nine + check(nine, True))
    insz(nine + check(nine, False))
# Unknown birth dates and special prefixes.
for prefix in ("000001", "002001", "004001", "000000", "850700", "853200", "855200"):
    nine = prefix + "997"
    insz(nine + check(nine))
    insz(nine + check(nine, True))
# Written forms, separators and look-alike characters.
nine = "850730997"
good = nine + check(nine)
for form in (good, "%s.%s.%s-%s.%s" % (good[:2], good[2:4], good[4:6], good[6:9], good[9:]),
             "%s %s %s" % (good[:6], good[6:9], good[9:]), " %s\n" % good, "\t" + good,
             good[:6] + "\u2013" + good[6:], good[:6] + "\u00a0" + good[6:],
             good[:6] + "\u2009" + good[6:], "\uff18" + good[1:], good[:6] + "/" + good[6:],
             good[:6] + "_" + good[6:], good + "0", good[:-1], "", "00000000000",
             "\u0668" + good[1:], good.replace("0", "O"), good[:6] + "--" + good[6:],
             good[:6] + "\t" + good[6:], good[:6] + ".-. " + good[6:]):
    insz(form)
# Random digit strings and near misses.
for _ in range(3000):
    length = rng.choice([10, 11, 11, 11, 12])
    s = "".join(rng.choice("0123456789") for _ in range(length))
    if ssn.is_valid(s) and s[6:9] not in ("997", "998"):
        continue  # keep valid vectors to the fictional serial numbers
    insz(s)
for _ in range(2000):
    nine = "%02d%02d%02d%03d" % (rng.randrange(100), rng.choice(list(range(0, 13)) + list(range(20, 33)) + list(range(40, 53)) + [13, 19, 33, 60, 99]),
                                  rng.randrange(100), rng.choice([997, 998]))
    c = check(nine, rng.random() < 0.3)
    if rng.random() < 0.3:
        c = "%02d" % rng.randrange(100)
    insz(nine + c)

# KBO numbers.
def kbo_check(eight):
    return "%02d" % (97 - int(eight) % 97)

for first in "0123456789":
    eight = first + "4746030"
    kbo(eight + kbo_check(eight))
for form in ("0474.603.083", "474.603.083", "0474603083", "474603083", "BE0474603083",
             "BE 0474.603.083", "be0474603083", "(0)474603083", "0474/603/083",
             "0474-603-083", "0474 603 083", " 0474603083 ", "0410.561.210", "410.561.210",
             "0474.603.084", "04746030830", "47460308", "0000000000", "000000000",
             "BE474603083", "0474\u2013603\u2013083", "\uff10474603083", "B0474603083"):
    kbo(form)
for _ in range(3000):
    length = rng.choice([9, 10, 10, 10, 11])
    s = "".join(rng.choice("0123456789") for _ in range(length))
    if rng.random() < 0.5 and length in (9, 10):
        s = s[:-2] + kbo_check(s[:-2].rjust(8, "0")[-8:]) if length == 10 else s[:-2] + kbo_check(s[:-2].rjust(8, "0"))
    kbo(s)

with open("tests/data/stdnum-vectors.tsv", "w", encoding="utf-8") as out:
    out.write("# kind\tinput (JSON string)\tvalid\tcompact; python-stdnum verdicts, year %d\n" % year)
    import json
    for kind, s, valid, compact in rows:
        out.write("%s\t%s\t%s\t%s\n" % (kind, json.dumps(s), valid, compact))
print("wrote %d vectors (year %d)" % (len(rows), year))
