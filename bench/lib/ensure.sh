# Sourced by bench/run and bench/compare: `ensure COMMAND PACKAGE` installs a missing tool from Debian's
# packages, unpinned beyond what the distribution ships: the bench measures the server, and any
# wrk 4 / h2load behaves the same for that.
ensure() {
  local command="$1" package="$2"
  command -v "$command" >/dev/null 2>&1 && return 0
  echo "bench: installing $package (for $command)" >&2
  if ! apt-get install -y "$package" >/dev/null; then
    # A machine that never ran apt-get update has no package lists yet.
    apt-get update >/dev/null
    apt-get install -y "$package" >/dev/null
  fi
}
