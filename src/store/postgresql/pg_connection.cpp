#include "store/postgresql/pg_connection.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>
#include <charconv>
#include <cstring>
#include <utility>

namespace drec::pg {
namespace {

// Statements per round trip: the answers of one chunk must fit in the socket buffers, since a
// blocking client only reads them once the chunk is sent.
constexpr std::size_t kPipelineChunk = 256;

// libpq's messages end with a newline and hold one line per host tried; a log line holds them
// all, since the second host's answer ("session is read-only") is what tells a failover apart.
std::string OneLine(std::string_view message) {
  std::string line;
  bool line_start = false;
  for (char c : message) {
    if (c == '\n') {
      if (!line.empty() && line.back() != ' ') line += "; ";
      line_start = true;
    } else if (!(line_start && (c == ' ' || c == '\t'))) {
      line += c;
      line_start = false;
    }
  }
  while (!line.empty() && (line.back() == ' ' || line.back() == ';')) line.pop_back();
  return line;
}

// The first line of a statement, enough to name it in a message.
std::string FirstLine(std::string_view text) {
  return std::string(text.substr(0, text.find('\n')));
}

// Server notices (a shutdown warning, say) go to drec's log, not raw to stderr.
void LogNotice(void* /*context*/, const char* message) {
  spdlog::info("postgresql: {}", OneLine(message));
}

ErrorInfo ConnectionError(PGconn* conn, std::string_view context) {
  return {Status::Unavailable(
              fmt::format("postgresql: {}: {}", context, OneLine(PQerrorMessage(conn)))),
          false};
}

bool HasResultOk(const PGresult* result) {
  const ExecStatusType status = PQresultStatus(result);
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

}  // namespace

ErrorInfo ClassifyError(const PGresult* result, std::string_view context) {
  const char* state = result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const std::string sqlstate = state == nullptr ? "" : state;
  const std::string message =
      fmt::format("postgresql: {}: {}{}", context,
                  result == nullptr ? "no answer" : OneLine(PQresultErrorMessage(result)),
                  sqlstate.empty() ? "" : fmt::format(" (SQLSTATE {})", sqlstate));
  if (sqlstate == "40001" || sqlstate == "40P01") return {Status::Unavailable(message), true};
  // Connection failures (08), resources (53), operator intervention (57: shutdown, crash
  // recovery), a read-only server (25006: a standby), or no SQLSTATE at all (the connection
  // broke before the server answered): all pass on their own.
  if (sqlstate.empty() || sqlstate.starts_with("08") || sqlstate.starts_with("53") ||
      sqlstate.starts_with("57") || sqlstate == "25006") {
    return {Status::Unavailable(message), false};
  }
  return {Status::Internal(message), false};
}

Params& Params::Add(std::int64_t value) {
  values_.emplace_back(std::to_string(value));
  return *this;
}

Params& Params::Add(std::optional<std::int64_t> value) {
  if (!value) return AddNull();
  return Add(*value);
}

Params& Params::Add(std::string_view value) {
  values_.emplace_back(std::string(value));
  return *this;
}

Params& Params::Add(bool value) {
  values_.emplace_back(value ? "t" : "f");
  return *this;
}

Params& Params::AddNull() {
  values_.emplace_back(std::nullopt);
  return *this;
}

Params& Params::AddArray(const std::vector<std::string>& values) {
  std::string literal = "{";
  for (const std::string& value : values) {
    if (literal.size() > 1) literal += ',';
    literal += '"';
    for (const char c : value) {
      if (c == '"' || c == '\\') literal += '\\';
      literal += c;
    }
    literal += '"';
  }
  literal += '}';
  values_.emplace_back(std::move(literal));
  return *this;
}

std::vector<const char*> Params::Pointers() const {
  std::vector<const char*> pointers;
  pointers.reserve(values_.size());
  for (const auto& value : values_) pointers.push_back(value ? value->c_str() : nullptr);
  return pointers;
}

std::string RowReader::Text() {
  const int column = column_++;
  return {PQgetvalue(result_, row_, column),
          static_cast<std::size_t>(PQgetlength(result_, row_, column))};
}

std::optional<std::int64_t> RowReader::OptionalInt() {
  const int column = column_++;
  if (PQgetisnull(result_, row_, column) != 0) return std::nullopt;
  const char* text = PQgetvalue(result_, row_, column);
  std::int64_t value = 0;
  std::from_chars(text, text + std::strlen(text), value);
  return value;
}

std::int64_t RowReader::Int() { return OptionalInt().value_or(0); }

bool RowReader::Bool() {
  const int column = column_++;
  return PQgetisnull(result_, row_, column) == 0 && PQgetvalue(result_, row_, column)[0] == 't';
}

void ForEachRow(const PGresult* result, const std::function<void(RowReader&)>& read) {
  const int rows = PQntuples(result);
  for (int row = 0; row < rows; ++row) {
    RowReader reader(result, row);
    read(reader);
  }
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& uri,
                                                     const std::string& schema) {
  // Later keywords override earlier ones, and the expanded dbname (the URI) comes last: the
  // URI's own settings win over these defaults. Keepalives and the user timeout make a dead
  // server (a lost machine) an error within seconds instead of a hang.
  const std::array<const char*, 9> keywords = {
      "connect_timeout",  "keepalives_idle",  "keepalives_interval",
      "keepalives_count", "tcp_user_timeout", "application_name",
      "client_encoding",  "dbname",           nullptr};
  const std::array<const char*, 9> values = {"5",    "10",   "5",         "3",    "15000",
                                             "drec", "UTF8", uri.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/1);
  if (conn == nullptr) return Status::Unavailable("postgresql: out of memory");
  std::unique_ptr<Connection> connection(new Connection(conn));
  PQsetNoticeProcessor(conn, &LogNotice, nullptr);
  if (PQstatus(conn) != CONNECTION_OK) {
    return ConnectionError(conn, "cannot connect").status;
  }
  std::unique_ptr<char, decltype(&PQfreemem)> quoted(
      PQescapeIdentifier(conn, schema.data(), schema.size()), &PQfreemem);
  if (!quoted) return ConnectionError(conn, "cannot quote the schema name").status;
  // Quietly, and only for drec's own statements: every table name below resolves in `schema`.
  Status status = connection->Exec(
      fmt::format("SET client_min_messages = warning; SET search_path TO {}", quoted.get()));
  if (!status.ok()) return status;
  return connection;
}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::usable() const { return PQstatus(conn_) == CONNECTION_OK; }

Status Connection::Exec(std::string_view sql) {
  const std::string text(sql);
  ResultPtr result(PQexec(conn_, text.c_str()));
  if (result == nullptr || !HasResultOk(result.get())) {
    return ClassifyError(result.get(), FirstLine(text)).status;
  }
  return Status::Ok();
}

const std::string* Connection::PreparedName(std::string_view sql) const {
  const auto found = prepared_.find(std::string(sql));
  return found == prepared_.end() ? nullptr : &found->second;
}

void Connection::SetPrepared(std::string_view sql, std::string name) {
  prepared_.emplace(std::string(sql), std::move(name));
}

std::string Connection::NextStatementName() { return fmt::format("drec_{}", next_statement_++); }

Result<ResultPtr> Connection::Query(std::string_view sql, const Params& params) {
  const std::string* name = PreparedName(sql);
  if (name == nullptr) {
    std::string fresh = NextStatementName();
    const std::string text(sql);
    ResultPtr prepared(PQprepare(conn_, fresh.c_str(), text.c_str(), 0, nullptr));
    if (prepared == nullptr || !HasResultOk(prepared.get())) {
      return ClassifyError(prepared.get(), "prepare").status;
    }
    SetPrepared(sql, std::move(fresh));
    name = PreparedName(sql);
  }
  const std::vector<const char*> values = params.Pointers();
  ResultPtr result(
      PQexecPrepared(conn_, name->c_str(), params.size(), values.data(), nullptr, nullptr, 0));
  if (result == nullptr || !HasResultOk(result.get())) {
    return ClassifyError(result.get(), "query").status;
  }
  return result;
}

void Pipeline::Add(std::string_view sql, Params params,
                   std::function<void(const PGresult*)> on_rows) {
  commands_.push_back({std::string(sql), std::move(params), std::move(on_rows)});
}

ErrorInfo Pipeline::Run() {
  for (std::size_t begin = 0; begin < commands_.size(); begin += kPipelineChunk) {
    ErrorInfo error = RunChunk(begin, std::min(commands_.size(), begin + kPipelineChunk));
    if (!error.status.ok()) return error;
  }
  commands_.clear();
  return {Status::Ok(), false};
}

ErrorInfo Pipeline::RunChunk(std::size_t begin, std::size_t end) {
  PGconn* conn = connection_.raw();
  if (PQenterPipelineMode(conn) != 1) return ConnectionError(conn, "pipeline");
  // What each answer belongs to, in the order the server sends them: a statement's preparation
  // (its name, so it is recorded only once the server confirmed it) or a command.
  struct Expected {
    std::string prepare_sql;
    std::string prepare_name;
    const Command* command = nullptr;
  };
  std::vector<Expected> expected;
  std::unordered_map<std::string, std::string> preparing;
  for (std::size_t i = begin; i < end; ++i) {
    const Command& command = commands_[i];
    std::string name;
    if (const std::string* known = connection_.PreparedName(command.sql)) {
      name = *known;
    } else if (const auto found = preparing.find(command.sql); found != preparing.end()) {
      name = found->second;
    } else {
      name = connection_.NextStatementName();
      if (PQsendPrepare(conn, name.c_str(), command.sql.c_str(), 0, nullptr) != 1) {
        return ConnectionError(conn, "send");
      }
      preparing.emplace(command.sql, name);
      expected.push_back({command.sql, name, nullptr});
    }
    const std::vector<const char*> values = command.params.Pointers();
    if (PQsendQueryPrepared(conn, name.c_str(), command.params.size(), values.data(), nullptr,
                            nullptr, 0) != 1) {
      return ConnectionError(conn, "send");
    }
    expected.push_back({"", "", &command});
  }
  if (PQpipelineSync(conn) != 1) return ConnectionError(conn, "send");

  ErrorInfo first_error{Status::Ok(), false};
  for (const Expected& answer : expected) {
    ResultPtr result(PQgetResult(conn));
    if (result == nullptr) return ConnectionError(conn, "answer");
    // Each command's answer ends with a null result.
    ResultPtr end_of_command(PQgetResult(conn));
    if (PQresultStatus(result.get()) == PGRES_PIPELINE_ABORTED) continue;
    if (!HasResultOk(result.get())) {
      if (first_error.status.ok()) {
        first_error =
            ClassifyError(result.get(), answer.command != nullptr ? FirstLine(answer.command->sql)
                                                                  : std::string("prepare"));
      }
      continue;
    }
    if (answer.command == nullptr) {
      connection_.SetPrepared(answer.prepare_sql, answer.prepare_name);
    } else if (answer.command->on_rows) {
      answer.command->on_rows(result.get());
    }
  }
  ResultPtr sync(PQgetResult(conn));
  if (sync == nullptr || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) {
    return ConnectionError(conn, "pipeline end");
  }
  if (PQexitPipelineMode(conn) != 1) return ConnectionError(conn, "pipeline end");
  return first_error;
}

}  // namespace drec::pg
