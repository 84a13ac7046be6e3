#include "store/mongo/mongo_transfer.h"

#include <fmt/format.h>

#include <utility>

#include "store/mongo/mongo_driver.h"
#include "store/mongo/mongo_store.h"
#include "store/mongo/write_plan.h"

namespace drec {
namespace {

using mongo::Append;
using mongo::AppendDocument;
using mongo::Bson;
using mongo::CollectionPtr;
using mongo::CursorPtr;
using transfer::Column;
using transfer::ColumnType;
using transfer::Row;
using transfer::Table;

// Writes per request: FerretDB 1.x hangs on large update requests (MongoStore::DetectServer),
// and a copy is not where a few more round trips matter.
constexpr std::size_t kWritesPerRequest = 50;
// The copy's checkpoint lives in C.meta beside the schema version and the lease documents.
constexpr std::string_view kCheckpointId = "migration";

// The document field of a column: the event id is the document's _id.
std::string FieldOf(const Table& table, const Column& column) {
  if (table.name == "event_ids" && column.name == "id") return "_id";
  return column.name;
}

bool Find(const bson_t* doc, const std::string& key, bson_iter_t* iter) {
  return bson_iter_init_find(iter, doc, key.c_str());
}

Result<Row> ReadRow(const Table& table, const bson_t* doc) {
  Row row;
  for (const Column& column : table.columns) {
    const std::string field = FieldOf(table, column);
    bson_iter_t iter;
    const bool present = Find(doc, field, &iter) && !BSON_ITER_HOLDS_NULL(&iter);
    if (!present && column.nullable) {
      row.emplace_back(std::monostate{});
      continue;
    }
    switch (column.type) {
      case ColumnType::kText:
        if (present && !BSON_ITER_HOLDS_UTF8(&iter)) {
          return Status::Internal(fmt::format("mongodb: {}.{} is not a string", table.name, field));
        }
        row.emplace_back(mongo::StringField(doc, field));
        break;
      case ColumnType::kInt:
        // Counters absent from a record read as 0, as the store's queries read them.
        row.emplace_back(mongo::Int64Field(doc, field));
        break;
      case ColumnType::kTime: {
        auto time = mongo::DateField(doc, field);
        if (!time) {
          if (column.nullable) {
            row.emplace_back(std::monostate{});
            break;
          }
          return Status::Internal(fmt::format("mongodb: {}.{} is not a date", table.name, field));
        }
        row.emplace_back(*time);
        break;
      }
      case ColumnType::kBool:
        row.emplace_back(mongo::BoolField(doc, field));
        break;
      case ColumnType::kTextList:
        row.emplace_back(mongo::StringsField(doc, field));
        break;
    }
  }
  return row;
}

// The document of a row as drec writes it: unset fields absent, and `attachment` only on the
// tags that are attachments (docs/data-model.md#tags).
Bson DocumentOf(const Table& table, const Row& row, const bson_oid_t& batch) {
  Bson doc;
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    const Column& column = table.columns[i];
    const std::string field = FieldOf(table, column);
    const transfer::Value& value = row[i];
    if (const auto* s = std::get_if<std::string>(&value)) {
      Append(doc.get(), field, std::string_view(*s));
    } else if (const auto* n = std::get_if<std::int64_t>(&value)) {
      if (column.type == ColumnType::kTime) {
        Append(doc.get(), field, mongo::Date{*n});
      } else {
        Append(doc.get(), field, *n);
      }
    } else if (const auto* b = std::get_if<bool>(&value)) {
      if (*b || column.name != "attachment") Append(doc.get(), field, *b);
    } else if (const auto* list = std::get_if<std::vector<std::string>>(&value)) {
      Append(doc.get(), field, *list);
    }
  }
  // The journal an event id came with (docs/mongodb.md): here, the copy's chunk.
  if (table.name == "event_ids") Append(doc.get(), "batch", batch);
  return doc;
}

Bson KeyFilter(const Table& table, const Row& row) {
  Bson filter;
  for (std::size_t i = 0; i < table.key_size; ++i) {
    const auto* key = std::get_if<std::string>(&row[i]);
    Append(filter.get(), FieldOf(table, table.columns[i]),
           std::string_view(key != nullptr ? *key : std::string()));
  }
  return filter;
}

// The rows after `after` in key order: (k0 > a0) or (k0 = a0 and k1 > a1) or ...
Bson AfterFilter(const Table& table, const transfer::Key& after) {
  Bson filter;
  bson_t clauses;
  bson_append_array_begin(filter.get(), "$or", 3, &clauses);
  for (std::size_t i = 0; i < table.key_size && i < after.size(); ++i) {
    const std::string index = std::to_string(i);
    AppendDocument(&clauses, index, [&](bson_t* clause) {
      for (std::size_t j = 0; j < i; ++j) {
        Append(clause, FieldOf(table, table.columns[j]), std::string_view(after[j]));
      }
      AppendDocument(clause, FieldOf(table, table.columns[i]),
                     [&](bson_t* gt) { Append(gt, "$gt", std::string_view(after[i])); });
    });
  }
  bson_append_array_end(filter.get(), &clauses);
  return filter;
}

Bson KeyOrder(const Table& table, std::size_t limit) {
  Bson opts;
  AppendDocument(opts.get(), "sort", [&](bson_t* sort) {
    for (std::size_t i = 0; i < table.key_size; ++i) {
      Append(sort, FieldOf(table, table.columns[i]), std::int64_t{1});
    }
  });
  if (limit > 0) Append(opts.get(), "limit", static_cast<std::int64_t>(limit));
  return opts;
}

Status SendBulk(mongoc_collection_t* collection, const std::vector<Bson>& filters,
                const std::vector<Bson>& documents, std::size_t begin, std::size_t end,
                const std::string& context) {
  Bson bulk_opts;
  Append(bulk_opts.get(), "ordered", false);
  mongo::BulkPtr bulk(
      mongoc_collection_create_bulk_operation_with_opts(collection, bulk_opts.get()));
  Bson opts;
  Append(opts.get(), "upsert", true);
  bson_error_t error;
  for (std::size_t i = begin; i < end; ++i) {
    if (!mongoc_bulk_operation_replace_one_with_opts(bulk.get(), filters[i].get(),
                                                     documents[i].get(), opts.get(), &error)) {
      return mongo::ToStatus(error, context);
    }
  }
  bson_t reply;
  const bool ok = mongoc_bulk_operation_execute(bulk.get(), &reply, &error) != 0;
  bson_destroy(&reply);
  return ok ? Status::Ok() : mongo::ToStatus(error, context);
}

std::string FirstHost(const std::string& uri) {
  bson_error_t error;
  std::unique_ptr<mongoc_uri_t, mongo::Deleter<mongoc_uri_destroy>> parsed(
      mongoc_uri_new_with_error(uri.c_str(), &error));
  if (parsed == nullptr) return "?";
  const mongoc_host_list_t* hosts = mongoc_uri_get_hosts(parsed.get());
  return hosts != nullptr ? hosts->host_and_port : "?";
}

}  // namespace

MongoTransfer::MongoTransfer(std::unique_ptr<MongoStore> store,
                             std::unique_ptr<mongo::ClientPool> pool, std::string host,
                             std::string database, std::string collection)
    : store_(std::move(store)),
      pool_(std::move(pool)),
      host_(std::move(host)),
      database_(std::move(database)),
      collection_(std::move(collection)) {}

MongoTransfer::~MongoTransfer() = default;

Result<std::unique_ptr<MongoTransfer>> MongoTransfer::Open(const std::string& uri,
                                                           const std::string& database,
                                                           const std::string& collection,
                                                           std::int64_t retention_days,
                                                           bool source) {
  mongo::InitializeDriver();
  auto pool = mongo::ClientPool::Create(uri, collection);
  if (!pool.ok()) return pool.status();
  if (source) {
    mongo::Client client = (*pool)->Lease();
    std::unique_ptr<mongoc_database_t, mongo::Deleter<mongoc_database_destroy>> db(
        mongoc_client_get_database(client.get(), database.c_str()));
    bson_error_t error{};
    if (!mongoc_database_has_collection(db.get(), collection.c_str(), &error)) {
      if (error.code != 0) return mongo::ToStatus(error, "looking for the source collection");
      return Status::InvalidArgument(fmt::format(
          "database {} has no collection {} (the source store must exist)", database, collection));
    }
  }
  auto store = MongoStore::Open(uri, database, collection, retention_days);
  if (!store.ok()) return store.status();
  if (!source) {
    // The copied repositories carry no rolling window: it is marked not valid, so the first
    // trending query after the copy computes it from the copied days.
    mongo::Client client = (*pool)->Lease();
    mongo::CollectionPtr meta = client.Collection(database, collection + ".meta");
    mongo::Bson filter;
    mongo::Append(filter.get(), "_id", mongo::kWindowDocument);
    bson_error_t error;
    if (!mongoc_collection_delete_one(meta.get(), filter.get(), nullptr, nullptr, &error)) {
      return mongo::ToStatus(error, "resetting the rolling window");
    }
  }
  return std::unique_ptr<MongoTransfer>(new MongoTransfer(
      std::move(store).value(), std::move(pool).value(), FirstHost(uri), database, collection));
}

Result<std::unique_ptr<MongoTransfer>> MongoTransfer::OpenSource(const std::string& uri,
                                                                 const std::string& database,
                                                                 const std::string& collection,
                                                                 std::int64_t retention_days) {
  return Open(uri, database, collection, retention_days, /*source=*/true);
}

Result<std::unique_ptr<MongoTransfer>> MongoTransfer::OpenSink(const std::string& uri,
                                                               const std::string& database,
                                                               const std::string& collection,
                                                               std::int64_t retention_days) {
  return Open(uri, database, collection, retention_days, /*source=*/false);
}

std::string MongoTransfer::CollectionOf(const Table& table) const {
  return table.collection.empty() ? collection_ : collection_ + "." + table.collection;
}

std::string MongoTransfer::Identity() const {
  return fmt::format("mongodb://{}/{} collection {}", host_, database_, collection_);
}

// No snapshot: the writer lease taken at Open keeps every drec from writing meanwhile.
Status MongoTransfer::BeginSnapshot() { return Status::Ok(); }

Result<std::int64_t> MongoTransfer::CountRows(const Table& table) {
  mongo::Client client = pool_->Lease();
  CollectionPtr collection = client.Collection(database_, CollectionOf(table));
  Bson filter;
  bson_error_t error;
  const std::int64_t count = mongoc_collection_count_documents(collection.get(), filter.get(),
                                                               nullptr, nullptr, nullptr, &error);
  if (count < 0) return mongo::ToStatus(error, "counting " + CollectionOf(table));
  return count;
}

Result<std::vector<Row>> MongoTransfer::ReadRows(const Table& table,
                                                 const std::optional<transfer::Key>& after,
                                                 std::size_t limit) {
  mongo::Client client = pool_->Lease();
  CollectionPtr collection = client.Collection(database_, CollectionOf(table));
  Bson filter = after ? AfterFilter(table, *after) : Bson();
  Bson opts = KeyOrder(table, limit);
  CursorPtr cursor(
      mongoc_collection_find_with_opts(collection.get(), filter.get(), opts.get(), nullptr));
  std::vector<Row> rows;
  Status failed;
  Status status =
      mongo::ForEach(cursor.get(), "reading " + CollectionOf(table), [&](const bson_t* doc) {
        if (!failed.ok()) return;
        auto row = ReadRow(table, doc);
        if (row.ok()) {
          rows.push_back(std::move(row).value());
        } else {
          failed = row.status();
        }
      });
  if (!status.ok()) return status;
  if (!failed.ok()) return failed;
  return rows;
}

Result<std::optional<std::string>> MongoTransfer::ReadCheckpoint() {
  mongo::Client client = pool_->Lease();
  CollectionPtr meta = client.Collection(database_, collection_ + ".meta");
  Bson filter;
  Append(filter.get(), "_id", kCheckpointId);
  std::optional<std::string> checkpoint;
  CursorPtr cursor(mongoc_collection_find_with_opts(meta.get(), filter.get(), nullptr, nullptr));
  Status status = mongo::ForEach(
      cursor.get(), "reading the copy's checkpoint",
      [&](const bson_t* doc) { checkpoint = mongo::StringField(doc, "checkpoint"); });
  if (!status.ok()) return status;
  return checkpoint;
}

Result<bool> MongoTransfer::HoldsRecords() {
  for (const Table& table : transfer::Tables()) {
    mongo::Client client = pool_->Lease();
    CollectionPtr collection = client.Collection(database_, CollectionOf(table));
    Bson filter;
    Bson opts;
    Append(opts.get(), "limit", std::int64_t{1});
    bson_error_t error;
    const std::int64_t count = mongoc_collection_count_documents(
        collection.get(), filter.get(), opts.get(), nullptr, nullptr, &error);
    if (count < 0) return mongo::ToStatus(error, "counting " + CollectionOf(table));
    if (count > 0) return true;
  }
  return false;
}

Status MongoTransfer::WriteRows(const Table& table, const std::vector<Row>& rows,
                                const std::string& checkpoint) {
  bson_oid_t batch;
  bson_oid_init(&batch, nullptr);
  std::vector<Bson> filters, documents;
  for (const Row& row : rows) {
    if (!transfer::RowFits(table, row)) {
      return Status::Internal("mongodb: a row of " + table.name + " does not fit its columns");
    }
    filters.push_back(KeyFilter(table, row));
    documents.push_back(DocumentOf(table, row, batch));
  }
  mongo::Client client = pool_->Lease();
  CollectionPtr collection = client.Collection(database_, CollectionOf(table));
  // Replacing by key: rows of a chunk written before an interruption are written again, alike.
  for (std::size_t begin = 0; begin < rows.size(); begin += kWritesPerRequest) {
    Status status = SendBulk(collection.get(), filters, documents, begin,
                             std::min(rows.size(), begin + kWritesPerRequest),
                             "writing " + CollectionOf(table));
    if (!status.ok()) return status;
  }
  CollectionPtr meta = client.Collection(database_, collection_ + ".meta");
  Bson filter;
  Append(filter.get(), "_id", kCheckpointId);
  Bson update;
  AppendDocument(update.get(), "$set",
                 [&](bson_t* set) { Append(set, "checkpoint", std::string_view(checkpoint)); });
  Bson opts;
  Append(opts.get(), "upsert", true);
  bson_error_t error;
  if (!mongoc_collection_update_one(meta.get(), filter.get(), update.get(), opts.get(), nullptr,
                                    &error)) {
    return mongo::ToStatus(error, "writing the copy's checkpoint");
  }
  return Status::Ok();
}

}  // namespace drec
