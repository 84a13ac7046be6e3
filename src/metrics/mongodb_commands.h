// Commands the MongoDB store sends, by command and by the role of the collection it addresses
// (drec_mongodb_commands_total): round trips are what a MongoDB store's throughput is made of
// (docs/mongodb.md#batches-few-round-trips), so operators and the benchmark
// (bench/mongo_commands_bench.py) count them. Process-wide, since the driver's command monitoring
// is; both labels come from fixed vocabularies, never from names in the data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace drec {

// Counts one command `command` (a name outside the fixed vocabulary counts as "other") sent to
// the collection of role `role` ("repositories", "tags", …, "journal", "meta"; "none" for
// commands addressed to no collection; anything else counts as "other").
void CountMongoDbCommand(std::string_view command, std::string_view role);

// The count so far of one (command, role) pair, as rendered.
std::int64_t MongoDbCommands(std::string_view command, std::string_view role);

// drec_mongodb_commands_total in Prometheus text format, the pairs counted so far only (nothing
// when this process never talked to MongoDB).
std::string RenderMongoDbCommandMetrics();

}  // namespace drec
