#include "store/mongo/mongo_driver.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

#include "metrics/mongodb_commands.h"

namespace drec::mongo {
namespace {

constexpr std::int32_t kServerSelectionTimeoutMs = 2000;
constexpr std::int32_t kConnectTimeoutMs = 2000;
// Bounds a write to a server that stopped answering without closing the connection; long
// enough for pruning a week of event ids in one delete.
constexpr std::int32_t kSocketTimeoutMs = 30000;

// Server error codes that mean "this server cannot serve you right now" (shutting down, stepped
// down, unreachable peers): retrying later may succeed, so they are outages, not bugs.
constexpr std::array<std::uint32_t, 12> kTransientServerCodes = {
    6,      // HostUnreachable
    7,      // HostNotFound
    64,     // WriteConcernFailed
    89,     // NetworkTimeout
    91,     // ShutdownInProgress
    189,    // PrimarySteppedDown
    9001,   // SocketException
    10107,  // NotWritablePrimary
    11600,  // InterruptedAtShutdown
    11602,  // InterruptedDueToReplStateChange
    13435,  // NotPrimaryNoSecondaryOk
    13436,  // NotPrimaryOrSecondary
};

// The driver logs through spdlog like the rest of drec, so its warnings reach the same sink.
void LogToSpdlog(mongoc_log_level_t level, const char* domain, const char* message, void*) {
  switch (level) {
    case MONGOC_LOG_LEVEL_ERROR:
    case MONGOC_LOG_LEVEL_CRITICAL:
      spdlog::error("mongoc {}: {}", domain, message);
      break;
    case MONGOC_LOG_LEVEL_WARNING:
      // Servers without sessions commands (FerretDB) refuse the endSessions a closing client
      // sends; the sessions expire anyway, so that is no news for an operator.
      if (std::string_view(message).find("endSessions") != std::string_view::npos) {
        spdlog::debug("mongoc {}: {}", domain, message);
      } else {
        spdlog::warn("mongoc {}: {}", domain, message);
      }
      break;
    default:
      spdlog::debug("mongoc {}: {}", domain, message);
      break;
  }
}

struct Driver {
  Driver() {
    mongoc_init();
    mongoc_log_set_handler(LogToSpdlog, nullptr);
  }
  ~Driver() { mongoc_cleanup(); }
};

void SetIfUnset(mongoc_uri_t* uri, const char* option, std::int32_t value) {
  if (!mongoc_uri_has_option(uri, option)) mongoc_uri_set_option_as_int32(uri, option, value);
}

bson_iter_t* Find(const bson_t* doc, std::string_view key, bson_iter_t* iter) {
  return bson_iter_init_find_w_len(iter, doc, key.data(), static_cast<int>(key.size())) ? iter
                                                                                        : nullptr;
}

// Commands whose collection is not their first element's value.
constexpr std::string_view kGetMore = "getMore";

// Counts every command a client of the pool starts; the context is the repository collection.
void CommandStarted(const mongoc_apm_command_started_t* event) {
  const std::string_view name = mongoc_apm_command_started_get_command_name(event);
  const auto* repository_collection =
      static_cast<const std::string*>(mongoc_apm_command_started_get_context(event));
  const bson_t* command = mongoc_apm_command_started_get_command(event);
  bson_iter_t iter;
  std::string_view collection;
  const bool found = name == kGetMore ? bson_iter_init_find(&iter, command, "collection")
                                      : bson_iter_init(&iter, command) && bson_iter_next(&iter);
  if (found && BSON_ITER_HOLDS_UTF8(&iter)) {
    std::uint32_t length = 0;
    const char* value = bson_iter_utf8(&iter, &length);
    collection = std::string_view(value, length);
  }
  CountMongoDbCommand(name, CollectionRole(collection, *repository_collection));
}

}  // namespace

std::string_view CollectionRole(std::string_view collection,
                                std::string_view repository_collection) {
  if (collection.empty()) return "none";
  if (repository_collection.empty()) return "other";
  if (collection == repository_collection) return "repositories";
  if (collection.size() > repository_collection.size() + 1 &&
      collection.starts_with(repository_collection) &&
      collection[repository_collection.size()] == '.') {
    return collection.substr(repository_collection.size() + 1);  // unknown ones count as other
  }
  return "other";
}

void InitializeDriver() { static Driver driver; }

Status ToStatus(const bson_error_t& error, std::string_view context) {
  std::string message = "mongodb: " + std::string(context) + ": " + error.message;
  const bool transient =
      error.domain == MONGOC_ERROR_STREAM || error.domain == MONGOC_ERROR_SERVER_SELECTION ||
      ((error.domain == MONGOC_ERROR_SERVER || error.domain == MONGOC_ERROR_WRITE_CONCERN) &&
       std::find(kTransientServerCodes.begin(), kTransientServerCodes.end(), error.code) !=
           kTransientServerCodes.end());
  return transient ? Status::Unavailable(std::move(message)) : Status::Internal(std::move(message));
}

CollectionPtr Client::Collection(const std::string& database, const std::string& name) const {
  return CollectionPtr(mongoc_client_get_collection(client_, database.c_str(), name.c_str()));
}

Result<std::unique_ptr<ClientPool>> ClientPool::Create(const std::string& uri_text,
                                                       const std::string& repository_collection) {
  InitializeDriver();
  bson_error_t error;
  std::unique_ptr<mongoc_uri_t, Deleter<mongoc_uri_destroy>> uri(
      mongoc_uri_new_with_error(uri_text.c_str(), &error));
  if (!uri) return Status::InvalidArgument(std::string("mongodb: bad uri: ") + error.message);
  SetIfUnset(uri.get(), MONGOC_URI_SERVERSELECTIONTIMEOUTMS, kServerSelectionTimeoutMs);
  SetIfUnset(uri.get(), MONGOC_URI_CONNECTTIMEOUTMS, kConnectTimeoutMs);
  SetIfUnset(uri.get(), MONGOC_URI_SOCKETTIMEOUTMS, kSocketTimeoutMs);
  if (!mongoc_uri_has_option(uri.get(), MONGOC_URI_APPNAME)) {
    mongoc_uri_set_appname(uri.get(), "drec");
  }
  const mongoc_write_concern_t* given = mongoc_uri_get_write_concern(uri.get());
  if (mongoc_write_concern_get_w(given) == MONGOC_WRITE_CONCERN_W_DEFAULT &&
      !mongoc_write_concern_journal_is_set(given)) {
    std::unique_ptr<mongoc_write_concern_t, Deleter<mongoc_write_concern_destroy>> concern(
        mongoc_write_concern_new());
    mongoc_write_concern_set_wmajority(concern.get(), 0);
    mongoc_write_concern_set_journal(concern.get(), true);
    mongoc_uri_set_write_concern(uri.get(), concern.get());
  }
  mongoc_client_pool_t* pool = mongoc_client_pool_new_with_error(uri.get(), &error);
  if (pool == nullptr) {
    return Status::InvalidArgument(std::string("mongodb: bad uri: ") + error.message);
  }
  // Version 2 reports server errors in their own domain, which ToStatus relies on.
  mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
  auto context = std::make_unique<std::string>(repository_collection);
  std::unique_ptr<mongoc_apm_callbacks_t, Deleter<mongoc_apm_callbacks_destroy>> callbacks(
      mongoc_apm_callbacks_new());
  mongoc_apm_set_command_started_cb(callbacks.get(), CommandStarted);
  // Copies the callbacks; before the first client is popped, as the driver requires.
  mongoc_client_pool_set_apm_callbacks(pool, callbacks.get(), context.get());
  return std::unique_ptr<ClientPool>(new ClientPool(pool, std::move(context)));
}

Client ClientPool::Lease() { return Client(pool_.get(), mongoc_client_pool_pop(pool_.get())); }

void Append(bson_t* doc, std::string_view key, std::string_view value) {
  bson_append_utf8(doc, key.data(), static_cast<int>(key.size()), value.data(),
                   static_cast<int>(value.size()));
}

void Append(bson_t* doc, std::string_view key, std::int64_t value) {
  bson_append_int64(doc, key.data(), static_cast<int>(key.size()), value);
}

void Append(bson_t* doc, std::string_view key, bool value) {
  bson_append_bool(doc, key.data(), static_cast<int>(key.size()), value);
}

void Append(bson_t* doc, std::string_view key, Date value) {
  bson_append_date_time(doc, key.data(), static_cast<int>(key.size()), value.millis);
}

void Append(bson_t* doc, std::string_view key, const bson_oid_t& value) {
  bson_append_oid(doc, key.data(), static_cast<int>(key.size()), &value);
}

void Append(bson_t* doc, std::string_view key, const bson_t* value) {
  bson_append_document(doc, key.data(), static_cast<int>(key.size()), value);
}

void Append(bson_t* doc, std::string_view key, const std::vector<std::string>& values) {
  bson_t array;
  bson_append_array_begin(doc, key.data(), static_cast<int>(key.size()), &array);
  for (std::size_t i = 0; i < values.size(); ++i) {
    char buffer[16];
    const char* index = nullptr;
    const std::size_t length =
        bson_uint32_to_string(static_cast<std::uint32_t>(i), &index, buffer, sizeof buffer);
    Append(&array, std::string_view(index, length), values[i]);
  }
  bson_append_array_end(doc, &array);
}

std::string StringField(const bson_t* doc, std::string_view key) {
  bson_iter_t iter;
  if (Find(doc, key, &iter) == nullptr || !BSON_ITER_HOLDS_UTF8(&iter)) return {};
  std::uint32_t length = 0;
  const char* value = bson_iter_utf8(&iter, &length);
  return std::string(value, length);
}

std::int64_t Int64Field(const bson_t* doc, std::string_view key) {
  bson_iter_t iter;
  if (Find(doc, key, &iter) == nullptr || !BSON_ITER_HOLDS_NUMBER(&iter)) return 0;
  return bson_iter_as_int64(&iter);
}

bool BoolField(const bson_t* doc, std::string_view key) {
  bson_iter_t iter;
  return Find(doc, key, &iter) != nullptr && BSON_ITER_HOLDS_BOOL(&iter) && bson_iter_bool(&iter);
}

std::optional<UnixMillis> DateField(const bson_t* doc, std::string_view key) {
  bson_iter_t iter;
  if (Find(doc, key, &iter) == nullptr || !BSON_ITER_HOLDS_DATE_TIME(&iter)) return std::nullopt;
  return bson_iter_date_time(&iter);
}

std::vector<std::string> StringsField(const bson_t* doc, std::string_view key) {
  std::vector<std::string> values;
  bson_iter_t iter;
  bson_iter_t child;
  if (Find(doc, key, &iter) == nullptr || !BSON_ITER_HOLDS_ARRAY(&iter) ||
      !bson_iter_recurse(&iter, &child)) {
    return values;
  }
  while (bson_iter_next(&child)) {
    if (!BSON_ITER_HOLDS_UTF8(&child)) continue;
    std::uint32_t length = 0;
    const char* value = bson_iter_utf8(&child, &length);
    values.emplace_back(value, length);
  }
  return values;
}

}  // namespace drec::mongo
