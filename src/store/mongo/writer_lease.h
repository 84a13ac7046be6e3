// The writer lease: one drec at a time writes a MongoDB collection set. The journal and the
// event-id check (docs/mongodb.md) assume a single writer; several drecs on one database counted
// events twice and replayed each other's journals. So the store holds a lease document in
// `C.meta`, renews it while it runs, releases it when it stops, and a second drec refuses to
// start while the first holds it (docs/mongodb.md#one-writer-per-collection-set).
//
// The lease relies on one server guarantee only: inserting a document whose _id exists fails.
// FerretDB 1.x evaluates an update's or a delete's filter in one step and writes in another, so
// a conditional update or a delete-then-insert of one document can let two takers win; instead
// every holder gets a lease document of its own, numbered (its epoch): taking over epoch n means
// inserting epoch n + 1, which only one drec can do, and the holder of n checks that no n + 1
// exists each time it renews. Times in the documents are the server's clock (hello's
// localTime), so drec hosts need not agree on the time; a holder measures its own lease on its
// monotonic clock from before each renewal was sent, so it gives up before any taker can act.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "store/mongo/mongo_driver.h"
#include "store/mongo/process_identity.h"
#include "util/status.h"
#include "util/time.h"

namespace drec::mongo {

struct LeaseOptions {
  std::string database;
  // The collection holding the lease documents (`C.meta`).
  std::string collection;
  // The collection set the lease guards, as messages name it (the repository collection `C`).
  std::string label;
  // How long a lease lasts unrenewed: how long a drec killed on another machine keeps the
  // next one waiting. Renewed every third of it.
  std::chrono::milliseconds duration{std::chrono::seconds(30)};
};

// One holder's lease document, as read back.
struct LeaseHolder {
  std::string id;
  std::int64_t epoch = 0;
  std::string writer;
  ProcessIdentity process;
  UnixMillis acquired_at = 0;
  UnixMillis renewed_at = 0;
  UnixMillis expires_at = 0;  // server clock
  bool released = false;
};

class WriterLease {
 public:
  // Takes the lease for `options.label`. A lease that a stopped drec released, or that a drec
  // left which no longer runs on this machine, is taken at once; one that a drec elsewhere left
  // is waited for until it expires (at most its duration: a crashed replica comes back by
  // itself). Fails with InvalidArgument, naming the other drec, when a live one holds it: it
  // runs on this machine, or it renews the lease while this one waits. Unavailable when the
  // server cannot be reached. Renews the lease in the background from then on.
  static Result<std::unique_ptr<WriterLease>> Acquire(ClientPool& pool, LeaseOptions options);
  // Stops renewing and releases the lease, so the next drec starts at once.
  ~WriterLease();
  WriterLease(const WriterLease&) = delete;
  WriterLease& operator=(const WriterLease&) = delete;

  // Before a batch: Ok when this drec holds the lease with at least half its duration left,
  // renewing it when due, and taking it again when it is free (another drec released it or let
  // it expire); Unavailable when another drec holds it or it cannot be renewed in time. Sets
  // `*generation` to the holding it checked, for Held.
  [[nodiscard]] Status Hold(Client& client, std::uint64_t* generation);
  // Before each journal and each collection's writes of a batch, without a round trip: Ok while
  // the holding Hold returned as `generation` still has half its duration left (the background
  // renewal keeps it so). Unavailable once it may pass to another drec before a write sent now
  // lands, or was taken anew (whoever wrote in between may have applied the same events).
  [[nodiscard]] Status Held(std::uint64_t generation) const;

  // Test hook: the lease is no longer renewed in the background, as if the process were paused.
  void StopRenewingForTesting();

 private:
  using SteadyClock = std::chrono::steady_clock;

  WriterLease(ClientPool& pool, LeaseOptions options);
  // Waits for the lease at start-up, as Acquire says.
  Status AcquireAtStart();
  // One attempt: true when this drec holds the lease now; false with the live holder in
  // `*holder` when another drec does.
  Result<bool> TryAcquire(Client& client, LeaseHolder* holder);
  // Extends the lease; Unavailable when it cannot, marking it lost when another drec may hold it.
  Status Renew(Client& client);
  void MarkLost(const std::string& why);
  // Renews the lease every third of its duration; takes it again when it was lost and is free.
  void RenewInBackground();
  // The newest lease document (the highest epoch), if any.
  Status FindNewest(Client& client, std::optional<LeaseHolder>* newest);
  // Inserts the lease document of `epoch`; false when another drec inserted it first.
  Result<bool> InsertEpoch(Client& client, std::int64_t epoch, UnixMillis server_now);
  // The refusal to start, naming the other writer.
  Status Refuse(const LeaseHolder& holder, const std::string& why) const;
  // How long the lease has been held since its last renewal was sent; nullopt when not held.
  std::optional<SteadyClock::duration> Age() const;

  ClientPool& pool_;
  const LeaseOptions options_;
  // This holder's name in the lease documents: host, pid and a value unique to this lease.
  const std::string writer_;

  // Renewals, acquisitions and the release run one at a time (FerretDB can lose concurrent
  // updates of one document); Held reads only the atomics.
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool renewing_ = true;
  bool renewal_failing_ = false;
  std::string id_;  // the held lease document's _id
  // When the last successful renewal (or the acquisition) was sent, in steady-clock
  // nanoseconds; kNotHeld when the lease is not held.
  static constexpr std::int64_t kNotHeld = std::numeric_limits<std::int64_t>::min();
  std::atomic<std::int64_t> renewed_ns_{kNotHeld};
  std::atomic<std::uint64_t> generation_{0};
  std::thread renewer_;
};

}  // namespace drec::mongo
