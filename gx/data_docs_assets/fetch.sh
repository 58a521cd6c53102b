#!/usr/bin/env bash
# Re-fetch the CSS/JS/fonts that GX's Data Docs load from CDNs, from the npm registry,
# at the versions GX 1.x's templates name (great_expectations/render/view/templates/
# page.j2, index_page.j2, js_script_imports.j2). The gate copies this folder into every
# Data Docs site and points the pages at it, so the site opens from disk with no network.
# Usage: make vendor-data-docs (needs npm).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack --silent bootstrap@4.3.1 bootstrap-table@1.19.1 bootstrap-datepicker@1.9.0 \
  @forevolve/bootstrap-dark@1.1.0 jquery@3.7.1 popper.js@1.12.9 @fortawesome/fontawesome-free@6.6.0 \
  vega@5 vega-lite@5 vega-embed@6 >/dev/null
for f in *.tgz; do mkdir -p "x/${f%.tgz}"; tar xzf "$f" -C "x/${f%.tgz}"; done
put() { mkdir -p "$here/$(dirname "$2")"; cp "x/$1" "$here/$2"; }
put bootstrap-4.3.1/package/dist/css/bootstrap.min.css bootstrap/bootstrap.min.css
put bootstrap-4.3.1/package/dist/js/bootstrap.min.js bootstrap/bootstrap.min.js
put bootstrap-table-1.19.1/package/dist/bootstrap-table.min.css bootstrap-table/bootstrap-table.min.css
put bootstrap-table-1.19.1/package/dist/bootstrap-table.min.js bootstrap-table/bootstrap-table.min.js
put bootstrap-table-1.19.1/package/dist/extensions/filter-control/bootstrap-table-filter-control.min.css bootstrap-table/bootstrap-table-filter-control.min.css
put bootstrap-table-1.19.1/package/dist/extensions/filter-control/bootstrap-table-filter-control.min.js bootstrap-table/bootstrap-table-filter-control.min.js
put bootstrap-datepicker-1.9.0/package/dist/css/bootstrap-datepicker.min.css bootstrap-datepicker/bootstrap-datepicker.min.css
put bootstrap-datepicker-1.9.0/package/dist/js/bootstrap-datepicker.min.js bootstrap-datepicker/bootstrap-datepicker.min.js
put forevolve-bootstrap-dark-1.1.0/package/dist/css/bootstrap-prefers-dark.css bootstrap-dark/bootstrap-prefers-dark.css
put jquery-3.7.1/package/dist/jquery.min.js jquery/jquery.min.js
put popper.js-1.12.9/package/dist/umd/popper.min.js popper/popper.min.js
put fortawesome-fontawesome-free-6.6.0/package/css/all.min.css fontawesome/css/all.min.css
for font in fa-brands-400 fa-regular-400 fa-solid-900 fa-v4compatibility; do
  put "fortawesome-fontawesome-free-6.6.0/package/webfonts/$font.woff2" "fontawesome/webfonts/$font.woff2"
done
for pkg in vega vega-lite vega-embed; do
  src=$(ls -d x/$pkg-[0-9]*)
  put "${src#x/}/package/build/$pkg.min.js" "vega/$pkg.min.js"
  (cd "$src/package" && node -e "process.stdout.write(require('./package.json').version)") > "$here/vega/$pkg.version"
done
echo "vendored into $here"
