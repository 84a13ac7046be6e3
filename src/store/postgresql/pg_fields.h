// How the field table (model/fields.h) maps to PostgreSQL: column lists, positional
// parameters, the fold of an inserted row into an existing one, and the readers that go with
// them. Every statement that touches counters or times is built from these, so a new counter
// needs no SQL edit here.
#pragma once

#include <string>
#include <string_view>

#include "model/fields.h"
#include "store/postgresql/pg_connection.h"

namespace drec::pg {

// "numpulls, ..., lastpulled": the counters, then the times. With a qualifier ("r."), each
// column is qualified.
std::string TallyColumns(std::string_view qualifier = "");
// The counters alone.
std::string CounterColumns(std::string_view qualifier = "");
// "$first, $first+1, ...": one parameter per column of TallyColumns / CounterColumns.
std::string TallyParams(int first);
std::string CounterParams(int first);
// The update of `table` by the row `source` (in an upsert EXCLUDED, the row proposed for
// insertion): counters added, first* times the least, last* the greatest (LEAST and GREATEST
// ignore NULL, so an unset time never wins).
std::string FoldTally(std::string_view table, std::string_view source = "EXCLUDED");
std::string FoldCounters(std::string_view table, std::string_view source = "EXCLUDED");
// `format` (an fmt pattern whose {0} is a counter's name) for every counter, joined with ", ".
std::string EachCounter(std::string_view format);

// Appends the parameters of TallyParams / CounterParams.
void AddTally(Params& params, const Tally& tally);
void AddCounters(Params& params, const CounterValues& counts);

// Reads the columns of TallyColumns / CounterColumns, in that order.
Tally ReadTally(RowReader& row);
CounterValues ReadCounters(RowReader& row);

}  // namespace drec::pg
