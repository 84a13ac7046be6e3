// How the field table (model/fields.h) maps to SQL: column lists, parameters, the fold of a
// delta into a row, and the binders and readers that go with them. Every statement that
// touches counters or times is built from these, so a new counter needs no SQL edit here.
#pragma once

#include <string>
#include <string_view>

#include "model/fields.h"
#include "store/sqlite/sqlite_handle.h"

namespace drec::sqlite {

// "numpulls, ..., lastpulled": the counters, then the times, each column named as its field.
// With a prefix ("r."), every column is qualified.
std::string TallyColumns(std::string_view qualifier = "");
// The counters alone.
std::string CounterColumns(std::string_view qualifier = "");
// ":numpulls, ..., :lastpulled": the parameters BindTally fills, in TallyColumns order.
std::string TallyParams();
// ":numpulls, ...": the parameters BindCounters fills.
std::string CounterParams();
// "numpulls = numpulls + :numpulls, ..., firstpushed = <earliest>, ...": adds the bound tally to
// a row. An unset bound (NULL) never wins; SQLite's two-argument min()/max() return NULL when
// either is NULL, hence the coalesce.
std::string FoldTally();
// The counters alone: "numpulls = numpulls + :numpulls, ...".
std::string FoldCounters();
// `format` (an fmt pattern whose {0} is a counter's name) for every counter, joined with ", ":
// for the statements with a shape of their own, like "sum({0}) AS window_{0}".
std::string EachCounter(std::string_view format);

// Binds the parameters of TallyParams / CounterParams.
void BindTally(Statement& stmt, const Tally& tally);
void BindCounters(Statement& stmt, const CounterValues& counts);

// Reads the columns of TallyColumns / CounterColumns, in that order.
Tally ReadTally(RowReader& row);
CounterValues ReadCounters(RowReader& row);

}  // namespace drec::sqlite
