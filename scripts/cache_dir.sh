# shellcheck shell=bash
# Sourced by the shell scripts that cache what they build outside the repo. The cache folder, as
# scripts/local_es.py cache_dir() computes it for the Python tooling: HERMES_CACHE_DIR when set,
# /var/cache/hermes for root, else the user's XDG cache.
hermes_cache_dir() {
  if [ -n "${HERMES_CACHE_DIR:-}" ]; then echo "$HERMES_CACHE_DIR"
  elif [ "$(id -u)" = 0 ]; then echo /var/cache/hermes
  else echo "${XDG_CACHE_HOME:-$HOME/.cache}/hermes"; fi
}
