// One CSV cell (RFC 4180) that a spreadsheet shows as text, whatever it holds.
#pragma once

#include <string>
#include <string_view>

namespace drec {

// `text` as one cell: quoted when it holds a separator, a quote or a line break, and prefixed
// with an apostrophe when it begins like a formula (`=`, `+`, `-`, `@`, a tab or a carriage
// return), which spreadsheets would otherwise run when the export is opened (OWASP's "CSV
// injection" rule). Names from the registry never begin so; documents that other tools wrote
// into the store, or data kept from before drec checked names, may.
std::string CsvCell(std::string_view text);

}  // namespace drec
