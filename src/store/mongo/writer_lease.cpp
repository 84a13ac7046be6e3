#include "store/mongo/writer_lease.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace drec::mongo {
namespace {

using std::chrono::duration_cast;
using std::chrono::nanoseconds;

constexpr std::uint32_t kDuplicateKey = 11000;
constexpr std::uint32_t kCommandNotFound = 59;
// The lease documents' marker in `C.meta`, which also holds the schema version.
constexpr std::string_view kKind = "writer";

// The holder's timeline, from the moment before it asked the server the time for its last
// renewal (t): it renews after t + D/3; it starts a batch, a journal or a collection's writes
// only before t + D/2; it counts the lease lost from t + 9D/10. A taker acts no earlier than
// t + D, so a write of the holder lands after a takeover only if it was in flight for D/2.
using Span = std::chrono::steady_clock::duration;
Span RenewAfter(std::chrono::milliseconds duration) { return duration / 3; }
Span UsableFor(std::chrono::milliseconds duration) { return duration / 2; }
Span LostAfter(std::chrono::milliseconds duration) { return duration * 9 / 10; }

std::int64_t Nanos(std::chrono::steady_clock::time_point t) {
  return duration_cast<nanoseconds>(t.time_since_epoch()).count();
}

std::string LeaseId(std::int64_t epoch) { return fmt::format("{}.{}", kKind, epoch); }

// The server's clock, so that every time in the lease documents comes from one clock.
Result<UnixMillis> ServerNow(Client& client) {
  for (const char* name : {"hello", "isMaster"}) {  // hello is MongoDB 4.4.2+
    Bson command;
    Append(command.get(), name, std::int64_t{1});
    bson_t reply;
    bson_error_t error;
    const bool ok =
        mongoc_client_command_simple(client.get(), "admin", command.get(), nullptr, &reply, &error);
    const std::optional<UnixMillis> now = ok ? DateField(&reply, "localTime") : std::nullopt;
    bson_destroy(&reply);
    if (now.has_value()) return *now;
    if (ok) return Status::Internal("mongodb: the server's hello reply has no localTime");
    if (error.code != kCommandNotFound) return ToStatus(error, "reading the server's time");
  }
  return Status::Internal("mongodb: the server answers neither hello nor isMaster");
}

LeaseHolder ReadHolder(const bson_t* doc) {
  LeaseHolder holder;
  holder.id = StringField(doc, "_id");
  holder.epoch = Int64Field(doc, "epoch");
  holder.writer = StringField(doc, "writer");
  holder.process.host = StringField(doc, "host");
  holder.process.pid = Int64Field(doc, "pid");
  holder.process.boot_id = StringField(doc, "boot_id");
  holder.process.pid_namespace = StringField(doc, "pid_namespace");
  holder.process.start_ticks = Int64Field(doc, "start_ticks");
  holder.acquired_at = DateField(doc, "acquired_at").value_or(0);
  holder.renewed_at = DateField(doc, "renewed_at").value_or(0);
  holder.expires_at = DateField(doc, "expires_at").value_or(0);
  holder.released = BoolField(doc, "released");
  return holder;
}

std::string Describe(const LeaseHolder& holder) {
  return fmt::format("drec {} (host {}, pid {}), holding it since {}, renewed {}", holder.writer,
                     holder.process.host, holder.process.pid, FormatRfc3339(holder.acquired_at),
                     FormatRfc3339(holder.renewed_at));
}

std::string NewWriterName() {
  bson_oid_t oid;
  bson_oid_init(&oid, nullptr);
  char unique[25];
  bson_oid_to_string(&oid, unique);
  return fmt::format("{}:{}:{}", ThisProcess().host, ThisProcess().pid, unique);
}

bool IsThisProcess(const ProcessIdentity& process) {
  const ProcessIdentity& self = ThisProcess();
  return process.pid == self.pid && process.start_ticks == self.start_ticks &&
         process.boot_id == self.boot_id && process.pid_namespace == self.pid_namespace;
}

}  // namespace

WriterLease::WriterLease(ClientPool& pool, LeaseOptions options)
    : pool_(pool), options_(std::move(options)), writer_(NewWriterName()) {}

Result<std::unique_ptr<WriterLease>> WriterLease::Acquire(ClientPool& pool, LeaseOptions options) {
  std::unique_ptr<WriterLease> lease(new WriterLease(pool, std::move(options)));
  Status status = lease->AcquireAtStart();
  if (!status.ok()) return status;
  lease->renewer_ = std::thread([raw = lease.get()] { raw->RenewInBackground(); });
  return lease;
}

WriterLease::~WriterLease() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  if (id_.empty()) return;
  // Marked released, not deleted: epochs only grow, so no later insert can reuse this _id.
  Client client = pool_.Lease();
  CollectionPtr meta = client.Collection(options_.database, options_.collection);
  Bson filter;
  Append(filter.get(), "_id", id_);
  Append(filter.get(), "writer", writer_);
  Bson update;
  AppendDocument(update.get(), "$set", [](bson_t* set) {
    Append(set, "released", true);
    Append(set, "released_at", Date{NowMillis()});
  });
  bson_error_t error;
  if (!mongoc_collection_update_one(meta.get(), filter.get(), update.get(), nullptr, nullptr,
                                    &error)) {
    spdlog::warn(
        "mongodb: {}: releasing the writer lease failed ({}); the next drec waits until "
        "it expires",
        options_.label, error.message);
  }
}

Status WriterLease::AcquireAtStart() {
  Client client = pool_.Lease();
  std::lock_guard lock(mu_);
  // Bounded even if the server's clock stood still: a lease lasts one duration unrenewed.
  const auto give_up = SteadyClock::now() + 2 * options_.duration;
  const auto poll =
      std::min<SteadyClock::duration>(options_.duration / 10, std::chrono::seconds(1));
  std::optional<LeaseHolder> watched;
  while (true) {
    LeaseHolder holder;
    Result<bool> acquired = TryAcquire(client, &holder);
    if (!acquired.ok()) return acquired.status();
    if (*acquired) return Status::Ok();
    // A lease of another store object of this very process (tests do that) is watched like one
    // of a drec elsewhere.
    if (!IsThisProcess(holder.process) && LivenessOf(holder.process) == Liveness::kRunning) {
      return Refuse(holder, "it runs on this machine");
    }
    if (watched.has_value() &&
        (watched->id != holder.id || watched->expires_at != holder.expires_at)) {
      return Refuse(holder, "it renewed the lease while this drec waited");
    }
    if (SteadyClock::now() >= give_up) return Refuse(holder, "its lease did not expire");
    if (!watched.has_value()) {
      spdlog::warn(
          "mongodb: {}: the writer lease is held by {} until {}; waiting for it to expire (a "
          "killed drec leaves it behind; a running one renews it, and then this drec stops)",
          options_.label, Describe(holder), FormatRfc3339(holder.expires_at));
    }
    watched = holder;
    std::this_thread::sleep_for(poll);
  }
}

Result<bool> WriterLease::TryAcquire(Client& client, LeaseHolder* holder) {
  const auto sent = SteadyClock::now();
  Result<UnixMillis> now = ServerNow(client);
  if (!now.ok()) return now.status();
  std::optional<LeaseHolder> newest;
  Status status = FindNewest(client, &newest);
  if (!status.ok()) return status;
  std::string free;  // why the newest lease may be taken
  if (newest.has_value()) {
    if (newest->released) {
      free = "released";
    } else if (*now >= newest->expires_at) {
      free = "expired at " + FormatRfc3339(newest->expires_at);
    } else if (newest->writer == writer_) {
      free = "this drec's own, lapsed";
    } else if (LivenessOf(newest->process) == Liveness::kGone) {
      free = "its drec no longer runs on this machine";
    } else {
      *holder = *newest;
      return false;
    }
  }
  const std::int64_t epoch = newest.has_value() ? newest->epoch + 1 : 1;
  Result<bool> inserted = InsertEpoch(client, epoch, *now);
  if (!inserted.ok()) return inserted.status();
  // Whether it was this drec's insert or another's, the newest document names the holder.
  std::optional<LeaseHolder> winner;
  status = FindNewest(client, &winner);
  if (!status.ok()) return status;
  if (!winner.has_value()) {
    return Status::Internal("mongodb: " + options_.label + ": the writer lease document of " +
                            LeaseId(epoch) + " vanished after its insert");
  }
  if (!*inserted || winner->epoch != epoch || winner->writer != writer_) {
    *holder = *winner;
    return false;
  }
  id_ = LeaseId(epoch);
  renewed_ns_ = Nanos(sent);
  ++generation_;
  if (newest.has_value() && newest->writer == writer_) {
    spdlog::info("mongodb: {}: took the writer lease again", options_.label);
  } else if (newest.has_value() && !newest->released) {
    spdlog::warn("mongodb: {}: took over the writer lease from {}: {}", options_.label,
                 Describe(*newest), free);
  }
  // Older lease documents are history; one left behind costs nothing.
  Bson older;
  Append(older.get(), "lease", kKind);
  AppendDocument(older.get(), "epoch", [&](bson_t* lt) { Append(lt, "$lt", epoch); });
  CollectionPtr meta = client.Collection(options_.database, options_.collection);
  bson_error_t error;
  if (!mongoc_collection_delete_many(meta.get(), older.get(), nullptr, nullptr, &error)) {
    spdlog::debug("mongodb: {}: deleting old lease documents: {}", options_.label, error.message);
  }
  return true;
}

Result<bool> WriterLease::InsertEpoch(Client& client, std::int64_t epoch, UnixMillis server_now) {
  const ProcessIdentity& self = ThisProcess();
  Bson doc;
  Append(doc.get(), "_id", LeaseId(epoch));
  Append(doc.get(), "lease", kKind);
  Append(doc.get(), "epoch", epoch);
  Append(doc.get(), "writer", writer_);
  Append(doc.get(), "host", self.host);
  Append(doc.get(), "pid", self.pid);
  Append(doc.get(), "boot_id", self.boot_id);
  Append(doc.get(), "pid_namespace", self.pid_namespace);
  Append(doc.get(), "start_ticks", self.start_ticks);
  Append(doc.get(), "acquired_at", Date{server_now});
  Append(doc.get(), "renewed_at", Date{server_now});
  Append(doc.get(), "expires_at", Date{server_now + options_.duration.count()});
  Append(doc.get(), "released", false);
  CollectionPtr meta = client.Collection(options_.database, options_.collection);
  bson_error_t error;
  if (mongoc_collection_insert_one(meta.get(), doc.get(), nullptr, nullptr, &error)) return true;
  if (error.code == kDuplicateKey) {
    spdlog::debug("mongodb: {}: another drec took {} first", options_.label, LeaseId(epoch));
    return false;
  }
  return ToStatus(error, "taking the writer lease");
}

Status WriterLease::FindNewest(Client& client, std::optional<LeaseHolder>* newest) {
  Bson filter;
  Append(filter.get(), "lease", kKind);
  Bson opts;
  AppendDocument(opts.get(), "sort", [](bson_t* sort) { Append(sort, "epoch", std::int64_t{-1}); });
  Append(opts.get(), "limit", std::int64_t{1});
  CollectionPtr meta = client.Collection(options_.database, options_.collection);
  CursorPtr cursor(mongoc_collection_find_with_opts(meta.get(), filter.get(), opts.get(), nullptr));
  newest->reset();
  return ForEach(cursor.get(), "reading the writer lease",
                 [&](const bson_t* doc) { *newest = ReadHolder(doc); });
}

Status WriterLease::Renew(Client& client) {
  const std::int64_t previous = renewed_ns_;
  const SteadyClock::duration lost_after = LostAfter(options_.duration);
  const auto sent = SteadyClock::now();
  if (previous == kNotHeld) return Status::Unavailable("mongodb: the writer lease is not held");
  if (nanoseconds(Nanos(sent) - previous) >= lost_after) {
    MarkLost("it was not renewed in time");
    return Status::Unavailable("mongodb: " + options_.label + ": the writer lease lapsed");
  }
  Result<UnixMillis> now = ServerNow(client);
  if (!now.ok()) return now.status();
  Bson filter;
  Append(filter.get(), "_id", id_);
  Append(filter.get(), "writer", writer_);
  Bson update;
  AppendDocument(update.get(), "$set", [&](bson_t* set) {
    Append(set, "renewed_at", Date{*now});
    Append(set, "expires_at", Date{*now + options_.duration.count()});
  });
  CollectionPtr meta = client.Collection(options_.database, options_.collection);
  bson_t reply;
  bson_error_t error;
  const bool ok =
      mongoc_collection_update_one(meta.get(), filter.get(), update.get(), nullptr, &reply, &error);
  const std::int64_t matched = ok ? Int64Field(&reply, "matchedCount") : 0;
  bson_destroy(&reply);
  if (!ok) return ToStatus(error, "renewing the writer lease");
  // A taker does not touch this document: it inserts the next epoch. So the renewal counts
  // only if no next epoch exists after it landed...
  std::optional<LeaseHolder> newest;
  Status status = matched == 0 ? Status::Ok() : FindNewest(client, &newest);
  if (!status.ok()) return status;
  if (matched == 0 || !newest.has_value() || newest->id != id_) {
    MarkLost(newest.has_value() && newest->id != id_ ? "taken over by " + Describe(*newest)
                                                     : "its lease document is gone");
    return Status::Unavailable("mongodb: " + options_.label +
                               ": another drec took the writer lease");
  }
  // ... and if it landed before the lease could have expired: a taker reads the old expiry no
  // earlier than one duration after `previous`.
  if (SteadyClock::now().time_since_epoch() - nanoseconds(previous) >= lost_after) {
    MarkLost("renewing it took too long");
    return Status::Unavailable("mongodb: " + options_.label + ": the writer lease lapsed");
  }
  renewed_ns_ = Nanos(sent);
  return Status::Ok();
}

void WriterLease::MarkLost(const std::string& why) {
  if (renewed_ns_.exchange(kNotHeld) == kNotHeld) return;
  spdlog::error(
      "mongodb: {}: this drec lost the writer lease ({}); it answers 503 until it can "
      "take it again",
      options_.label, why);
}

std::optional<std::chrono::steady_clock::duration> WriterLease::Age() const {
  const std::int64_t renewed = renewed_ns_;
  if (renewed == kNotHeld) return std::nullopt;
  return SteadyClock::now().time_since_epoch() - nanoseconds(renewed);
}

Status WriterLease::Hold(Client& client, std::uint64_t* generation) {
  std::lock_guard lock(mu_);
  Status renewal = Status::Ok();
  if (auto age = Age(); age.has_value() && *age >= RenewAfter(options_.duration)) {
    renewal = Renew(client);
  }
  if (auto age = Age(); age.has_value()) {
    if (*age < UsableFor(options_.duration)) {
      *generation = generation_;
      return Status::Ok();
    }
    if (*age < LostAfter(options_.duration)) {
      return Status::Unavailable("mongodb: " + options_.label +
                                 ": the writer lease could not be renewed: " + renewal.message());
    }
    MarkLost("it could not be renewed in time");
  }
  LeaseHolder holder;
  Result<bool> acquired = TryAcquire(client, &holder);
  if (!acquired.ok()) return acquired.status();
  if (!*acquired) {
    return Status::Unavailable(fmt::format(
        "mongodb: collection {} is written by another drec, {}; this one writes nothing",
        options_.label, Describe(holder)));
  }
  *generation = generation_;
  return Status::Ok();
}

Status WriterLease::Held(std::uint64_t generation) const {
  const std::optional<SteadyClock::duration> age = Age();
  if (age.has_value() && *age < UsableFor(options_.duration) && generation_ == generation) {
    return Status::Ok();
  }
  return Status::Unavailable("mongodb: " + options_.label +
                             ": this drec no longer holds the writer lease");
}

void WriterLease::RenewInBackground() {
  const SteadyClock::duration renew_after = RenewAfter(options_.duration);
  const SteadyClock::duration retry =
      std::min<SteadyClock::duration>(options_.duration / 10, std::chrono::seconds(1));
  std::unique_lock lock(mu_);
  auto next = SteadyClock::now() + renew_after;
  while (!wake_.wait_until(lock, next, [this] { return stopping_; })) {
    const std::optional<SteadyClock::duration> age = Age();
    if (!renewing_) {
      next = SteadyClock::now() + renew_after;
      continue;
    }
    if (age.has_value() && *age < renew_after) {  // Hold renewed it meanwhile
      next = SteadyClock::now() + (renew_after - *age);
      continue;
    }
    Client client = pool_.Lease();
    if (!age.has_value()) {
      // Lost (it lapsed in an outage, or another drec took it): take it again once it is free,
      // so that a running drec keeps it even while no event arrives. Failures change nothing.
      LeaseHolder holder;
      static_cast<void>(TryAcquire(client, &holder));
      next = SteadyClock::now() + renew_after;
      continue;
    }
    Status status = Renew(client);
    if (status.ok()) {
      if (renewal_failing_) spdlog::info("mongodb: {}: writer lease renewed", options_.label);
      renewal_failing_ = false;
      next = SteadyClock::now() + renew_after;
    } else {
      if (!renewal_failing_ && Age().has_value()) {
        spdlog::warn("mongodb: {}: renewing the writer lease failed, retrying: {}", options_.label,
                     status.message());
      }
      renewal_failing_ = true;
      next = SteadyClock::now() + retry;
    }
  }
}

Status WriterLease::Refuse(const LeaseHolder& holder, const std::string& why) const {
  return Status::InvalidArgument(fmt::format(
      "collection {} of database {} is written by another drec, {}, and {}. One drec writes "
      "a collection set: run one drec per database and collection (storage.mongodb.database, "
      "storage.mongodb.collection), or use PostgreSQL for several replicas. (A killed drec's "
      "lease expires within {} s.)",
      options_.label, options_.database, Describe(holder), why,
      duration_cast<std::chrono::seconds>(options_.duration).count()));
}

void WriterLease::StopRenewingForTesting() {
  std::lock_guard lock(mu_);
  renewing_ = false;
}

}  // namespace drec::mongo
