#!/usr/bin/env bash
# `make test`: runs each tier named (`make <tier>`) in turn, every one even after a failure, then
# prints each tier's wall time; exits non-zero if any tier failed.
set -uo pipefail
make=${MAKE:-make}
rows=()
failed=()
began=$SECONDS
for tier in "$@"; do
  echo "=== make $tier"
  start=$SECONDS
  if "$make" --no-print-directory "$tier"; then result=passed; else result=FAILED; failed+=("$tier"); fi
  took=$((SECONDS - start))
  rows+=("$(printf '%-12s %5d s  %2d:%02d  %s' "$tier" "$took" $((took / 60)) $((took % 60)) "$result")")
done
took=$((SECONDS - began))
echo
echo "make test, wall time per tier:"
printf '  %s\n' "${rows[@]}"
printf '  %-12s %5d s  %2d:%02d\n' total "$took" $((took / 60)) $((took % 60))
if ((${#failed[@]})); then
  echo "failed: ${failed[*]}"
  exit 1
fi
