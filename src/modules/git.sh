# `git`: clone $repo into $dest or bring an existing clone to $version, as Ansible's `git`
# module does; prints before/after (and what changed) as marks for zdd.
# shellcheck shell=sh disable=SC2154  # m repo dest version remote depth force update clone bare single_branch refspec recursive track check ssh_cmd umask_set reference: set by zdd's quoted prologue
export LANG=C LC_ALL=C LC_MESSAGES=C
# shellcheck disable=SC2088  # a literal ~, expanded here as Ansible expands it
case $dest in "~") dest=$HOME ;; "~/"*) dest=$HOME/${dest#"~/"} ;; esac
[ -n "$ssh_cmd" ] && export GIT_SSH_COMMAND="$ssh_cmd"
[ -n "$umask_set" ] && umask "$umask_set"
command -v git >/dev/null 2>&1 || { echo "${m}msg=git is not installed on the host"; exit 2; }
fail() { echo "${m}msg=$*"; exit 3; }
run() { out=$("$@" 2>&1) || fail "Failed to run $*: $out"; }
# The commit $version names on the remote ($1), as `git ls-remote` tells it.
remote_head() {
  if [ "$version" = HEAD ]; then ref=HEAD
  elif git ls-remote "$1" -h "refs/heads/$version" 2>/dev/null | grep -q .; then ref=refs/heads/$version
  elif git ls-remote "$1" -t "refs/tags/$version" 2>/dev/null | grep -q .; then ref=refs/tags/$version
  else echo "$version"; return; fi
  out=$(git ls-remote "$1" "$ref" "$ref^{}" 2>&1) || fail "Failed to run git ls-remote $1 $ref: $out"
  peeled=$(printf '%s\n' "$out" | awk '$2 ~ /\^\{\}$/ { print $1; exit }')
  if [ -n "$peeled" ]; then echo "$peeled"; else printf '%s\n' "$out" | awk 'NR == 1 { print $1 }'; fi
}
is_branch_or_tag() {
  git ls-remote "$1" -h "refs/heads/$version" -t "refs/tags/$version" 2>/dev/null | grep -q .
}
if [ "$bare" = 1 ]; then gitdir=$dest; else gitdir=$dest/.git; fi
if [ -f "$gitdir" ]; then gitdir=$(sed -n 's/^gitdir: //p' "$gitdir"); fi

# Put the work tree on $version (after a fetch or a clone).
switch_version() {
  cd "$dest" || fail "cannot enter $dest"
  if [ "$version" = HEAD ]; then
    branch=$(git symbolic-ref -q --short "refs/remotes/$remote/HEAD" 2>/dev/null)
    branch=${branch#"$remote"/}
    [ -n "$branch" ] || branch=$(git ls-remote --symref "$remote" HEAD 2>/dev/null | sed -n 's|^ref: refs/heads/\([^[:space:]]*\).*|\1|p')
    [ -n "$branch" ] || fail "Failed to find the default branch of $remote"
    run git checkout --force "$branch"
    run git reset --hard "$remote/$branch" --
  elif git show-ref --verify --quiet "refs/remotes/$remote/$version"; then
    if git show-ref --verify --quiet "refs/heads/$version"; then
      run git checkout --force "$version"
    else
      run git checkout --force --track -b "$version" "$remote/$version"
    fi
    run git reset --hard "$remote/$version" --
  else
    run git checkout --force "$version"
  fi
  if [ "$recursive" = 1 ] && [ -f .gitmodules ]; then
    if [ "$track" = 1 ]; then run git submodule update --init --recursive --remote
    else run git submodule update --init --recursive; fi
  fi
}

if [ ! -f "$gitdir/config" ]; then
  [ "$clone" = 1 ] || { echo "${m}after=$(remote_head "$repo")"; echo "${m}changed=1"; exit 0; }
  if [ "$check" = 1 ]; then echo "${m}after=$(remote_head "$repo")"; echo "${m}changed=1"; exit 0; fi
  parent=${dest%/*}; [ -n "$parent" ] && mkdir -p "$parent" 2>/dev/null
  set -- clone
  if [ "$bare" = 1 ]; then set -- "$@" --bare; else set -- "$@" --origin "$remote"; fi
  named=0; is_branch_or_tag "$repo" && named=1
  if [ -n "$depth" ]; then
    if [ "$version" = HEAD ] || [ -n "$refspec" ]; then set -- "$@" --depth "$depth"
    elif [ $named = 1 ]; then set -- "$@" --depth "$depth" --branch "$version"
    else echo "${m}warning=Ignoring depth argument. Shallow clones are only available for HEAD, branches, tags or in combination with refspec."; fi
  fi
  [ -n "$reference" ] && set -- "$@" --reference "$reference"
  if [ "$single_branch" = 1 ]; then
    set -- "$@" --single-branch
    [ $named = 1 ] && set -- "$@" --branch "$version"
  fi
  run git "$@" -- "$repo" "$dest"
  if [ "$bare" = 1 ] && [ "$remote" != origin ]; then (cd "$dest" && run git remote add "$remote" "$repo"); fi
  if [ -n "$refspec" ]; then
    (cd "$dest" && run git fetch ${depth:+--depth "$depth"} "$remote" "$refspec")
  fi
  [ "$bare" = 1 ] || switch_version
  cd "$dest" || fail "cannot enter $dest"
  echo "${m}after=$(git rev-parse HEAD)"
  echo "${m}changed=1"
  exit 0
fi

cd "$dest" || fail "cannot enter $dest"
before=$(git rev-parse HEAD 2>/dev/null)
echo "${m}before=$before"
if [ "$update" = 0 ]; then echo "${m}after=$before"; exit 0; fi
changed=0
if [ "$bare" = 0 ] && git status --porcelain | grep -qv '^??'; then
  [ "$force" = 1 ] || fail "Local modifications exist in the destination: $dest (force=no)."
  if [ "$check" = 0 ]; then
    run git reset --hard HEAD
    echo "${m}msg=Local modifications exist in the destination: $dest"
  fi
  changed=1
fi
url=$(git remote get-url "$remote" 2>/dev/null)
url_changed=0
if [ "$url" != "$repo" ] && [ "${url%/}" != "${repo%/}" ]; then
  url_changed=1
  if [ "$check" = 0 ]; then
    if [ -n "$url" ]; then run git remote set-url "$remote" "$repo"; else run git remote add "$remote" "$repo"; fi
  fi
fi
echo "${m}remote_url_changed=$url_changed"
if [ "$check" = 1 ]; then
  head=$(remote_head "$remote")
  echo "${m}after=$head"
  [ "$head" != "$before" ] && changed=1
  [ $url_changed = 1 ] && changed=1
  echo "${m}changed=$changed"
  exit 0
fi
if [ "$bare" = 1 ]; then
  set -- "+refs/heads/*:refs/heads/*"
else
  set -- "+refs/heads/*:refs/remotes/$remote/*"
fi
[ -n "$refspec" ] && set -- "$@" "$refspec"
run git fetch --tags --force ${depth:+--depth "$depth"} "$remote" "$@"
[ "$bare" = 1 ] || switch_version
after=$(git rev-parse HEAD)
echo "${m}after=$after"
[ "$after" != "$before" ] && changed=1
[ $url_changed = 1 ] && changed=1
echo "${m}changed=$changed"
