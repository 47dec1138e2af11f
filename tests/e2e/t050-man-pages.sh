#!/usr/bin/env bash
# Each program's --help and its man page come from one option table: the
# committed pages are what scripts/gen-man makes of the built programs, and
# the options and exit statuses of --help are exactly those of the page.
# needs: libtorch
. "$(dirname "$0")/lib.sh"

MLF_BIN=$MLF_BIN scripts/gen-man --check >"$T/diff" 2>&1
check_eq "man pages are up to date with the option tables (scripts/gen-man)" "$?" 0
[ -s "$T/diff" ] && sed 's/^/    /' "$T/diff" | head -40

# The sets compared: option names and exit statuses, as each side prints them.
help_options() { sed -n 's/^  \(-[A-Za-z], \)\{0,1\}\(--[a-z-]*\).*/\2/p; s/^      \(--[a-z-]*\).*/\1/p' "$1" | sort -u; }
man_options() { sed -n 's/^\(\\fB\\-[A-Za-z]\\fR, \)\{0,1\}\\fB\\-\\-\([a-z\\-]*\)\\fR.*/--\2/p' "$1" | sed 's/\\-/-/g' | sort -u; }
help_exits() { sed -n '/^Exit status:/,$s/^  \([0-9]\{1,3\}\) .*/\1/p' "$1" | sort -n; }
man_exits() { sed -n '/^\.SH EXIT STATUS/,/^\.\\" END/{/^\.B [0-9]/s/^\.B //p}' "$1" | sort -n; }

for page in man/man1/*.1; do
	prog=$(basename "$page" .1)
	"$prog" --help >"$T/$prog.help"
	check_eq "$prog --help exits 0" "$?" 0
	help_options "$T/$prog.help" >"$T/h.opts"
	man_options "$page" >"$T/m.opts"
	check "$prog: --help lists options" test -s "$T/h.opts"
	check "$prog: --help and $prog(1) list the same options" cmp -s "$T/h.opts" "$T/m.opts"
	help_exits "$T/$prog.help" >"$T/h.exits"
	man_exits "$page" >"$T/m.exits"
	check "$prog: --help lists exit statuses" test -s "$T/h.exits"
	check "$prog: --help and $prog(1) list the same exit statuses" cmp -s "$T/h.exits" "$T/m.exits"
	# the statuses every program can end with: usage errors, and unwritable output
	for s in 0 64 74; do
		check "$prog(1) lists exit status $s" grep -qx "$s" "$T/m.exits"
	done
done

# One meaning per short option across all programs.
for page in man/man1/*.1; do
	sed -n 's/^\\fB\\-\([A-Za-z]\)\\fR, \\fB\\-\\-\([a-z\\-]*\)\\fR.*/\1 \2/p' "$page" | sed 's/\\-/-/g'
done | sort -u >"$T/shorts"
dups=$(cut -d' ' -f1 "$T/shorts" | uniq -d | tr '\n' ' ')
check_eq "no short option has two meanings across the programs" "$dups" ""
check "the short options were found" test "$(wc -l <"$T/shorts")" -gt 10

# A usage error names the program and says where to look.
model-locate --bogus 2>"$T/err"
check_eq "an unknown option exits 64" "$?" 64
check_eq "... naming the program and the option" "$(head -1 "$T/err")" "model-locate: unknown option --bogus"
check_eq "... and pointing to --help" "$(tail -1 "$T/err")" "Try 'model-locate --help'."

finish
