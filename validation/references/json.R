# A minimal JSON writer in base R, shared by the reference scripts of this folder
# (sourced by them; no package beyond base R).

json_string <- function(x) {
  x <- gsub("\\\\", "\\\\\\\\", x)
  x <- gsub("\"", "\\\\\"", x)
  x <- gsub("\n", "\\\\n", x)
  x <- gsub("\t", "\\\\t", x)
  paste0("\"", x, "\"")
}

json_scalar <- function(x) {
  if (is.null(x) || (length(x) == 1L && is.na(x) && !is.character(x))) return("null")
  if (is.logical(x)) return(if (x) "true" else "false")
  if (is.character(x)) return(json_string(x))
  if (is.numeric(x)) {
    if (!is.finite(x)) return("null")
    if (is.integer(x)) return(sprintf("%d", x))
    # the shortest of 15 or 17 significant digits that reads back as the same double
    short <- sprintf("%.15g", x)
    return(if (as.numeric(short) == x) short else sprintf("%.17g", x))
  }
  stop("unsupported JSON scalar of class ", class(x)[1L])
}

# Lists become objects (named) or arrays (unnamed); atomic vectors become a scalar when of length
# one and not wrapped in I(), otherwise an array.
to_json <- function(x, indent = 0L) {
  pad <- strrep("  ", indent + 1L)
  end <- strrep("  ", indent)
  if (is.list(x)) {
    if (length(x) == 0L) return(if (is.null(names(x))) "[]" else "{}")
    items <- vapply(x, to_json, character(1), indent = indent + 1L)
    if (!is.null(names(x))) {
      items <- paste0(json_string(names(x)), ": ", items)
      return(paste0("{\n", pad, paste(items, collapse = paste0(",\n", pad)), "\n", end, "}"))
    }
    return(paste0("[\n", pad, paste(items, collapse = paste0(",\n", pad)), "\n", end, "]"))
  }
  if (is.null(x)) return("null")
  as_array <- inherits(x, "AsIs") || length(x) != 1L
  x <- unclass(x)
  if (!as_array) return(json_scalar(x))
  vals <- vapply(seq_along(x), function(i) json_scalar(x[[i]]), character(1))
  paste0("[", paste(vals, collapse = ", "), "]")
}

named_list <- function(values, keys) {
  out <- as.list(unname(values))
  names(out) <- keys
  out
}
