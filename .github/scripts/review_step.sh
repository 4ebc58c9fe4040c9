#!/usr/bin/env bash
# Usage: review_step.sh TITLE COMMAND [ARG...]
# Runs COMMAND, shows its output, appends output, exit status and duration to the
# Markdown report named by $REPORT, and exits with COMMAND's status.
set -uo pipefail
: "${REPORT:?REPORT must name the review report file}"
title="$1"
shift
start="$(date +%s)"
{
    printf '## %s\n\n```console\n$ %s\n' "$title" "$*"
} >>"$REPORT"
"$@" 2>&1 | tee -a "$REPORT"
status="${PIPESTATUS[0]}"
if [ "$status" -eq 0 ]; then verdict="passed"; else verdict="FAILED (exit $status)"; fi
printf '```\n\n**%s: %s** in %ss\n\n' "$title" "$verdict" "$(($(date +%s) - start))" >>"$REPORT"
printf -- '- %s: %s\n' "$title" "$verdict" >>"$REPORT.summary"
exit "$status"
