# Shared by the scripts: `install_debs WHAT PKG...` installs the Debian packages not yet
# installed (apt-get, as root or with sudo), or fails saying what to install by hand.
install_debs() {
  local what="$1"
  shift
  local need=()
  for deb in "$@"; do
    dpkg -s "$deb" >/dev/null 2>&1 || need+=("$deb")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    echo "install ${need[*]} ($what) with your package manager" >&2
    return 1
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing ${need[*]} ($what) with apt-get" >&2
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >&2
}
