// quant-safety warehouse: Data Docs tables show 50 rows a page (the index lists the
// validations of the last builds - 9 suites each - on one page, not 10 rows at a time).
if (window.jQuery && jQuery.fn.bootstrapTable) {
  jQuery.extend(jQuery.fn.bootstrapTable.defaults, {pageSize: 50, pageList: [10, 25, 50, 100, "All"]});
}
