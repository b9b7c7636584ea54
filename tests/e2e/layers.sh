#!/bin/bash
# layers.sh - libmail's layering (README "Layout"): base, common, mailbox,
# relay, bottom up; each layer includes only itself and the layers below.
# (a) every #include "x.h" in libmail/LAYER/*.[ch] names a header of the
#     same or a lower layer; a violation is one line saying which file
#     includes what from which layer;
# (b) the build enforces it: a probe compiled with exactly a layer's flags
#     (make print-layer-flags LAYER=...) fails on a header from the layer
#     above and compiles with one of its own.
. "$(dirname "$0")/../lib/lib.sh"

LAYERS=(base common mailbox relay)
cd "$TOP" || exit 1

# rank NAME: the layer's position (0 = base), or nothing.
rank() {
	local i
	for i in "${!LAYERS[@]}"; do
		[ "${LAYERS[$i]}" = "$1" ] && { echo "$i"; return; }
	done
}

# The directories are the layers, and nothing is left at the top.
dirs=$(cd libmail && find . -mindepth 1 -maxdepth 1 -type d | sed 's|^\./||' |
    sort | tr '\n' ' ')
check_eq "libmail/ holds exactly the layer directories" \
    "$(printf '%s\n' "${LAYERS[@]}" | sort | tr '\n' ' ')" "$dirs"
loose=$(find libmail -maxdepth 1 -type f -name '*.[ch]' | tr '\n' ' ')
check_eq "no source file directly in libmail/" "" "$loose"

# (a) the includes, file by file
for l in "${LAYERS[@]}"; do
	r=$(rank "$l")
	for f in libmail/"$l"/*.[ch]; do
		[ -f "$f" ] || continue
		bad=0
		while read -r h; do
			# the lowest layer that has h
			found=
			for k in "${LAYERS[@]}"; do
				[ -f "libmail/$k/$h" ] && { found=$k; break; }
			done
			if [ -z "$found" ]; then
				fail "$f includes $h, which is in no layer of libmail"
				bad=1
			elif [ "$(rank "$found")" -gt "$r" ]; then
				fail "$f includes $h from layer $found (above $l)"
				bad=1
			fi
		done < <(sed -n \
		    's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
		[ $bad = 0 ] && pass "$f includes only $l and below"
	done
done

# (b) the build refuses an upward include. The probe lives in $T: its own
# directory holds no header, so only the -I flags decide, exactly as for
# a file in libmail/LAYER/ (whose own directory is the first -I anyway).
# layer_flags LAYER: the compiler flags the Makefile gives LAYER's files
# (a make of its own: not the jobserver or variables of a calling make).
layer_flags() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	    make -s --no-print-directory -C "$TOP" print-layer-flags LAYER="$1"
}
# probe LAYER HEADER: compiles a file including HEADER with $flags.
probe() {
	# (the system headers first: not every libmail header is self-contained)
	printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	    '#include <sys/types.h>' "#include \"$2\"" 'int layers_probe(void);' \
	    'int layers_probe(void) { return 0; }' >"$T/probe-$1.c"
	# shellcheck disable=SC2086
	${CC:-cc} $flags -c -o "$T/probe-$1.o" "$T/probe-$1.c" >"$T/probe-$1.err" 2>&1
}
# one header of each layer, for the probes
own=(util.h conf.h maildir.h queue.h)
for i in "${!LAYERS[@]}"; do
	l=${LAYERS[$i]}
	if flags=$(layer_flags "$l" 2>"$T/flags.err"); then
		case " $flags " in
		*" -Ilibmail/$l "*) pass "make print-layer-flags LAYER=$l names libmail/$l" ;;
		*) fail "make print-layer-flags LAYER=$l names libmail/$l"; diag "$flags" ;;
		esac
	else
		fail "make print-layer-flags LAYER=$l"
		sed 's/^/#   /' "$T/flags.err"
		continue
	fi
	if probe "$l" "${own[$i]}"; then
		pass "a $l file may include ${own[$i]} ($l)"
	else
		fail "a $l file may include ${own[$i]} ($l)"
		sed 's/^/#   /' "$T/probe-$l.err" | head -n 5
	fi
	for ((j = i + 1; j < ${#LAYERS[@]}; j++)); do
		up=${LAYERS[$j]}
		h=${own[$j]}
		[ "$l" = base ] && [ "$up" = mailbox ] && h=index.h
		if probe "$l" "$h"; then
			fail "a $l file including $h ($up) compiles:" \
			    "the build does not enforce the layers"
		elif grep -q "$h" "$T/probe-$l.err"; then
			pass "a $l file including $h ($up) does not compile"
		else
			fail "a $l file including $h ($up) fails, but not for the header"
			sed 's/^/#   /' "$T/probe-$l.err" | head -n 5
		fi
	done
done

done_testing
