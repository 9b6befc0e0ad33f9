#!/bin/sh
# Prints its arguments and where it runs, and leaves a mark there.
echo "args: $*"
echo "in: $(basename "$(pwd)")"
touch done
