// The request bytes the server may hold at once, across every connection: a request reserves
// its body's size after its header is read and before any body byte is, and gives it back once
// its response is written. When the budget is spent the server answers 503 instead of growing.
#pragma once

#include <atomic>
#include <cstdint>

namespace drec {

class ByteBudget {
 public:
  // A reservation of bytes, returned to its budget when it is destroyed or reset.
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& other) noexcept : budget_(other.budget_), bytes_(other.bytes_) {
      other.budget_ = nullptr;
      other.bytes_ = 0;
    }
    Reservation& operator=(Reservation&& other) noexcept {
      if (this != &other) {
        Reset();
        budget_ = other.budget_;
        bytes_ = other.bytes_;
        other.budget_ = nullptr;
        other.bytes_ = 0;
      }
      return *this;
    }
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    ~Reservation() { Reset(); }

    // Gives the bytes back (nothing when there are none).
    void Reset() {
      if (budget_ != nullptr) budget_->Release(bytes_);
      budget_ = nullptr;
      bytes_ = 0;
    }
    std::int64_t bytes() const { return bytes_; }

   private:
    friend class ByteBudget;
    Reservation(ByteBudget* budget, std::int64_t bytes) : budget_(budget), bytes_(bytes) {}
    ByteBudget* budget_ = nullptr;
    std::int64_t bytes_ = 0;
  };

  // `capacity`: the most bytes reserved at once.
  explicit ByteBudget(std::int64_t capacity) : capacity_(capacity) {}
  ByteBudget(const ByteBudget&) = delete;
  ByteBudget& operator=(const ByteBudget&) = delete;

  // `bytes` more, or an empty reservation (bytes() == 0 and false from `ok`) when they would
  // exceed the capacity. Zero bytes always succeed.
  bool TryReserve(std::int64_t bytes, Reservation& out) {
    out.Reset();
    if (bytes <= 0) return true;
    std::int64_t used = used_.load(std::memory_order_relaxed);
    do {
      if (bytes > capacity_ - used) return false;
    } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
    out = Reservation(this, bytes);
    return true;
  }

  // Bytes reserved now.
  std::int64_t used() const { return used_.load(std::memory_order_relaxed); }
  std::int64_t capacity() const { return capacity_; }

 private:
  void Release(std::int64_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

  const std::int64_t capacity_;
  std::atomic<std::int64_t> used_{0};
};

}  // namespace drec
