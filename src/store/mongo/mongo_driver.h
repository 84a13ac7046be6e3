// Small RAII types over libmongoc/libbson 1.23, so the MongoDB store never frees a C object by
// hand and every driver error becomes a Status.
#pragma once

#include <bson/bson.h>
#include <mongoc/mongoc.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/status.h"
#include "util/time.h"

namespace drec::mongo {

// Destroys a libmongoc/libbson object with its own destroy function.
template <auto Destroy>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Destroy(p);
  }
};

using CollectionPtr = std::unique_ptr<mongoc_collection_t, Deleter<mongoc_collection_destroy>>;
using CursorPtr = std::unique_ptr<mongoc_cursor_t, Deleter<mongoc_cursor_destroy>>;
using BulkPtr = std::unique_ptr<mongoc_bulk_operation_t, Deleter<mongoc_bulk_operation_destroy>>;

// An owned document, empty when default-constructed. (Not a unique_ptr: bson_t's alignment
// attribute does not survive being a template argument.)
class Bson {
 public:
  Bson() : doc_(bson_new()) {}
  explicit Bson(bson_t* adopted) : doc_(adopted) {}
  Bson(Bson&& other) noexcept : doc_(std::exchange(other.doc_, nullptr)) {}
  Bson& operator=(Bson&& other) noexcept {
    std::swap(doc_, other.doc_);
    return *this;
  }
  ~Bson() {
    if (doc_ != nullptr) bson_destroy(doc_);
  }

  bson_t* get() const { return doc_; }
  bson_t* operator->() const { return doc_; }

 private:
  bson_t* doc_;
};

// Initialises libmongoc once per process (and cleans it up at exit); every entry point that
// creates driver objects calls it first.
void InitializeDriver();

// Maps a driver error to a Status: a server that cannot be reached or selected is Unavailable
// (the registry retries), anything else is Internal.
Status ToStatus(const bson_error_t& error, std::string_view context);

// A client leased from a pool for one sequence of operations, returned when it goes out of
// scope. A client is not thread-safe; a lease gives it to one thread at a time.
class Client {
 public:
  Client(mongoc_client_pool_t* pool, mongoc_client_t* client) : pool_(pool), client_(client) {}
  ~Client() { mongoc_client_pool_push(pool_, client_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  mongoc_client_t* get() const { return client_; }
  CollectionPtr Collection(const std::string& database, const std::string& name) const;

 private:
  mongoc_client_pool_t* pool_;
  mongoc_client_t* client_;
};

// The connection pool: it monitors the servers in the background, so connections come back by
// themselves after an outage.
class ClientPool {
 public:
  // `uri` gets short server-selection and connect timeouts and a majority + journal write
  // concern unless it sets them itself: a write must fail fast when the server is gone (drec
  // answers 503) and must survive the server's crash once acknowledged. Every command the pool's
  // clients send is counted (metrics/mongodb_commands.h), its collection by role: `C` (the
  // `repository_collection`) is "repositories", `C.tags` "tags", and so on.
  static Result<std::unique_ptr<ClientPool>> Create(const std::string& uri,
                                                    const std::string& repository_collection = {});

  // Blocks while every client is leased.
  Client Lease();

 private:
  ClientPool(mongoc_client_pool_t* pool, std::unique_ptr<std::string> repository_collection)
      : repository_collection_(std::move(repository_collection)), pool_(pool) {}
  // The command monitor's context: declared first, so it outlives the pool that calls it.
  std::unique_ptr<std::string> repository_collection_;
  std::unique_ptr<mongoc_client_pool_t, Deleter<mongoc_client_pool_destroy>> pool_;
};

// The role of `collection` in the collection set of `repository_collection`, as
// drec_mongodb_commands_total labels it: "repositories" for `C`, the suffix for `C.<suffix>`,
// "none" when the command addresses no collection, "other" otherwise.
std::string_view CollectionRole(std::string_view collection,
                                std::string_view repository_collection);

// Reads every document of a cursor; `read` gets each one, valid only during the call.
template <typename ReadFn>
Status ForEach(mongoc_cursor_t* cursor, std::string_view context, ReadFn read) {
  const bson_t* doc = nullptr;
  while (mongoc_cursor_next(cursor, &doc)) read(doc);
  bson_error_t error;
  if (mongoc_cursor_error(cursor, &error)) return ToStatus(error, context);
  return Status::Ok();
}

// A BSON date, distinct from an int64 in the builders below.
struct Date {
  UnixMillis millis;
};

void Append(bson_t* doc, std::string_view key, std::string_view value);
void Append(bson_t* doc, std::string_view key, std::int64_t value);
void Append(bson_t* doc, std::string_view key, bool value);
void Append(bson_t* doc, std::string_view key, Date value);
void Append(bson_t* doc, std::string_view key, const bson_oid_t& value);
void Append(bson_t* doc, std::string_view key, const bson_t* value);
// Keeps string literals from binding to the bool overload.
inline void Append(bson_t* doc, std::string_view key, const char* value) {
  Append(doc, key, std::string_view(value));
}
void Append(bson_t* doc, std::string_view key, const std::vector<std::string>& values);

// Appends a subdocument that `build` fills.
template <typename BuildFn>
void AppendDocument(bson_t* doc, std::string_view key, BuildFn build) {
  bson_t child;
  bson_append_document_begin(doc, key.data(), static_cast<int>(key.size()), &child);
  build(&child);
  bson_append_document_end(doc, &child);
}

// Field readers for documents that other tools may have written too: a missing field, or one
// of an unexpected type, reads as absent instead of failing the whole query.
std::string StringField(const bson_t* doc, std::string_view key);
std::int64_t Int64Field(const bson_t* doc, std::string_view key);
bool BoolField(const bson_t* doc, std::string_view key);
std::optional<UnixMillis> DateField(const bson_t* doc, std::string_view key);
std::vector<std::string> StringsField(const bson_t* doc, std::string_view key);

}  // namespace drec::mongo
