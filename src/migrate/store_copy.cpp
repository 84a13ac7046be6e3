#include "migrate/store_copy.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace drec::migrate {
namespace {

namespace json = boost::json;
using transfer::Tables;

// Bumped when the checkpoint's meaning changes, so an old one is refused rather than misread.
constexpr std::int64_t kCheckpointFormat = 1;

Status Corrupt(std::string_view why) {
  return Status::InvalidArgument(
      fmt::format("the target holds a copy checkpoint this drec cannot read ({})", why));
}

}  // namespace

std::string EncodeCheckpoint(const Checkpoint& checkpoint) {
  json::object out;
  out["format"] = kCheckpointFormat;
  out["source"] = checkpoint.source;
  json::array counts;
  for (std::int64_t n : checkpoint.source_rows) counts.emplace_back(n);
  out["source_rows"] = std::move(counts);
  out["table"] = checkpoint.table < Tables().size() ? Tables()[checkpoint.table].name : "";
  if (checkpoint.after) {
    json::array after;
    for (const std::string& part : *checkpoint.after) after.emplace_back(part);
    out["after"] = std::move(after);
  } else {
    out["after"] = nullptr;
  }
  out["rows"] = checkpoint.rows;
  out["done"] = checkpoint.done;
  return json::serialize(out);
}

Result<Checkpoint> DecodeCheckpoint(const std::string& text) {
  boost::system::error_code error;
  const json::value parsed = json::parse(text, error);
  if (error || !parsed.is_object()) return Corrupt("not a JSON object");
  const json::object& in = parsed.get_object();
  const auto* format = in.if_contains("format");
  if (format == nullptr || !format->is_int64() || format->get_int64() != kCheckpointFormat) {
    return Corrupt("another format");
  }
  Checkpoint out;
  const auto* source = in.if_contains("source");
  const auto* rows = in.if_contains("source_rows");
  const auto* table = in.if_contains("table");
  const auto* after = in.if_contains("after");
  const auto* written = in.if_contains("rows");
  const auto* done = in.if_contains("done");
  if (source == nullptr || !source->is_string() || rows == nullptr || !rows->is_array() ||
      table == nullptr || !table->is_string() || after == nullptr ||
      !(after->is_null() || after->is_array()) || written == nullptr || !written->is_int64() ||
      done == nullptr || !done->is_bool()) {
    return Corrupt("a field is missing");
  }
  out.source = source->get_string();
  for (const json::value& n : rows->get_array()) {
    if (!n.is_int64()) return Corrupt("source_rows");
    out.source_rows.push_back(n.get_int64());
  }
  const transfer::Table* found = transfer::TableNamed(table->get_string());
  if (found == nullptr) return Corrupt("unknown table");
  out.table = static_cast<std::size_t>(found - Tables().data());
  if (after->is_array()) {
    transfer::Key key;
    for (const json::value& part : after->get_array()) {
      if (!part.is_string()) return Corrupt("after");
      key.emplace_back(part.get_string());
    }
    out.after = std::move(key);
  }
  out.rows = written->get_int64();
  out.done = done->get_bool();
  return out;
}

Result<CopyStart> CheckCopy(transfer::RecordSource& source, transfer::RecordSink& sink) {
  if (source.Identity() == sink.Identity()) {
    return Status::InvalidArgument("the source and the target are the same store (" +
                                   source.Identity() + ")");
  }
  auto stored = sink.ReadCheckpoint();
  if (!stored.ok()) return stored.status();
  if (*stored) {
    auto checkpoint = DecodeCheckpoint(**stored);
    if (!checkpoint.ok()) return checkpoint.status();
    if (checkpoint->source != source.Identity()) {
      return Status::InvalidArgument(fmt::format("{} already holds a copy of {}, not of {}",
                                                 sink.Identity(), checkpoint->source,
                                                 source.Identity()));
    }
    return checkpoint->done ? CopyStart::kDone : CopyStart::kResume;
  }
  auto holds = sink.HoldsRecords();
  if (!holds.ok()) return holds.status();
  if (*holds) {
    return Status::InvalidArgument(
        fmt::format("{} already holds statistics: drec migrate copies into an empty store only",
                    sink.Identity()));
  }
  return CopyStart::kFresh;
}

Result<CopyReport> CopyStore(transfer::RecordSource& source, transfer::RecordSink& sink,
                             const CopyOptions& options) {
  const std::size_t chunk = std::max<std::size_t>(options.chunk_rows, 1);
  const auto& tables = Tables();
  auto start = CheckCopy(source, sink);
  if (!start.ok()) return start.status();
  CopyReport report;
  Checkpoint checkpoint;
  if (*start != CopyStart::kFresh) {
    auto stored = sink.ReadCheckpoint();
    if (!stored.ok()) return stored.status();
    auto decoded = DecodeCheckpoint(stored->value_or(""));
    if (!decoded.ok()) return decoded.status();
    checkpoint = std::move(decoded).value();
    if (*start == CopyStart::kDone) {
      report.already_done = true;
      report.rows = checkpoint.rows;
      return report;
    }
    report.resumed = true;
  }

  Status status = source.BeginSnapshot();
  if (!status.ok()) return status;
  std::vector<std::int64_t> counts;
  std::int64_t total = 0;
  for (const transfer::Table& table : tables) {
    auto count = source.CountRows(table);
    if (!count.ok()) return count.status();
    counts.push_back(*count);
    total += *count;
  }
  if (report.resumed) {
    if (checkpoint.source_rows != counts) {
      return Status::InvalidArgument(fmt::format(
          "{} changed since the interrupted copy into {} began (its row counts differ): the "
          "copy cannot be continued; empty the target and copy again, with drec stopped on the "
          "source",
          source.Identity(), sink.Identity()));
    }
  } else {
    checkpoint = Checkpoint{source.Identity(), counts, 0, std::nullopt, 0, false};
  }

  // The rows of the tables before the checkpoint's, and of its table up to its key, are copied.
  std::int64_t table_rows = 0;
  {
    std::int64_t earlier = 0;
    for (std::size_t i = 0; i < checkpoint.table; ++i) earlier += counts[i];
    table_rows = checkpoint.rows - earlier;
  }
  for (std::size_t t = checkpoint.table; t < tables.size(); ++t) {
    const transfer::Table& table = tables[t];
    if (t != checkpoint.table) {
      checkpoint.table = t;
      checkpoint.after.reset();
      table_rows = 0;
    }
    for (;;) {
      auto rows = source.ReadRows(table, checkpoint.after, chunk);
      if (!rows.ok()) return rows.status();
      if (rows->empty()) break;
      checkpoint.after = transfer::KeyOf(table, rows->back());
      checkpoint.rows += static_cast<std::int64_t>(rows->size());
      status = sink.WriteRows(table, *rows, EncodeCheckpoint(checkpoint));
      if (!status.ok()) return status;
      table_rows += static_cast<std::int64_t>(rows->size());
      report.rows_this_run += static_cast<std::int64_t>(rows->size());
      if (options.on_progress) {
        options.on_progress(
            {table.name, table_rows, counts[t], checkpoint.rows, total, report.rows_this_run});
      }
      if (rows->size() < chunk) break;
    }
  }
  if (checkpoint.rows != total) {
    return Status::Internal(fmt::format("copied {} rows of {}, which has {}", checkpoint.rows,
                                        source.Identity(), total));
  }
  checkpoint.done = true;
  status = sink.WriteRows(tables.back(), {}, EncodeCheckpoint(checkpoint));
  if (!status.ok()) return status;
  report.rows = checkpoint.rows;
  return report;
}

}  // namespace drec::migrate
