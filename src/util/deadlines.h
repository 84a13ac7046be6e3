// One thread that runs callbacks after a delay: the deadlines of replies that wait for a store.
// Its callbacks never touch the store, so they fire however stuck the store is.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <thread>

namespace drec {

class Deadlines {
 public:
  Deadlines();
  // Stops the thread; callbacks not yet due never run.
  ~Deadlines();
  Deadlines(const Deadlines&) = delete;
  Deadlines& operator=(const Deadlines&) = delete;

  // Runs `fn` on the deadline thread once `delay` has passed. `fn` must not block.
  void After(std::chrono::steady_clock::duration delay, std::function<void()> fn);

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace drec
