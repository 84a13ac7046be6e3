// JSON renderings of the records, with the data model's field names (SPEC 4, 5).
#pragma once

#include <boost/json/value.hpp>

#include "store/records.h"

namespace drec {

boost::json::object CountersJson(const Counters& counters);
boost::json::object RepositoryJson(const RepositoryRecord& record);
boost::json::object TagJson(const TagRecord& record);
boost::json::object DigestJson(const DigestRecord& record);
boost::json::object ActorJson(const ActorRecord& record);
boost::json::object DayJson(const DayRecord& record);

// {"error": message}: every API error has this shape.
std::string ErrorJson(std::string_view message);

}  // namespace drec
