// JSON renderings of the records, with the data model's field names (docs/data-model.md).
#pragma once

#include <boost/json/value.hpp>

#include "store/records.h"

namespace drec {

// The counters and times of a record, each named as in model/fields.h.
boost::json::object CountersJson(const Counters& counters);
// The counters alone (per-day records and windows carry no times).
boost::json::object CountValuesJson(const CounterValues& counts);
boost::json::object RepositoryJson(const RepositoryRecord& record);
boost::json::object TagJson(const TagRecord& record);
boost::json::object DigestJson(const DigestRecord& record);
boost::json::object ActorJson(const ActorRecord& record);
boost::json::object DayJson(const DayRecord& record);
// {"class", every counter and time}, with "day" or "tag" when the record has one.
boost::json::object ClassJson(const ClassRecord& record);

}  // namespace drec
