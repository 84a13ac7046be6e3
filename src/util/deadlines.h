// One thread that runs callbacks after a delay unless their work settled first: the deadlines
// of replies that wait for a store. Its callbacks never touch the store, so they fire however
// stuck the store is.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace drec {

class Deadlines {
 public:
  // How often the thread drops settled deadlines, and so the most a callback runs late: what
  // drec holds for deadlines is the replies still waiting plus those settled within one sweep,
  // not every reply of the last `delay`.
  static constexpr std::chrono::milliseconds kSweepInterval{50};

  Deadlines();
  // Stops the thread; callbacks not yet due never run.
  ~Deadlines();
  Deadlines(const Deadlines&) = delete;
  Deadlines& operator=(const Deadlines&) = delete;

  // Runs `fn` on the deadline thread once `delay` has passed (within kSweepInterval), unless
  // `settled()` is true by then. Neither may block; `settled` is called on the deadline thread
  // under its lock, so it must not call back into this object.
  void After(std::chrono::steady_clock::duration delay, std::function<bool()> settled,
             std::function<void()> fn);

  // Deadlines neither settled nor run as of the last sweep, plus those added since: for tests.
  std::size_t waiting() const;

 private:
  struct Deadline {
    std::chrono::steady_clock::time_point due;
    std::function<bool()> settled;
    std::function<void()> fn;
  };

  void Run();

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Deadline> deadlines_;  // guarded by mu_
  bool stopping_ = false;            // guarded by mu_
  std::thread thread_;
};

}  // namespace drec
