// src/util: happens-before annotations for ThreadSanitizer, for hand-offs it cannot see.
//
// Debian's gRPC is not built with -fsanitize=thread, so when our code hands an object to gRPC
// (starts a read or a write on a reactor) and gRPC later runs the reaction on another of its
// threads, the queue between the two is invisible to TSan, and every access to the reactor in the
// reaction looks like a race with the code that started the operation. SV_TSAN_RELEASE(p) before
// the call that hands `p` over and SV_TSAN_ACQUIRE(p) at the start of the reaction tell TSan the
// order gRPC guarantees (sanitizer/tsan_interface.h: __tsan_release / __tsan_acquire on the same
// address). They add no ordering of their own: use them only where the library orders the two
// sides, never to quiet a report between our own threads (CONTRIBUTING.md, "Reading a TSan
// report"). Without -fsanitize=thread both macros compile to nothing.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define SV_TSAN_ENABLED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SV_TSAN_ENABLED 1
#endif
#endif

//
// SV_TSAN_IGNORE_BEGIN()/END() around a call into gRPC: TSan records none of the memory accesses
// this thread makes in between (synchronization still counts). For a call whose work on our
// thread is gRPC's own and is read later by gRPC's threads in its uninstrumented core, where no
// annotation can reach (VStreamCall::start: Create, StartCall). Never around our own code.
#ifdef SV_TSAN_ENABLED
#include <sanitizer/tsan_interface.h>
extern "C" void __tsan_ignore_thread_begin();  // in the TSan runtime; not declared by GCC 12's header
extern "C" void __tsan_ignore_thread_end();
#define SV_TSAN_RELEASE(addr) __tsan_release(const_cast<void*>(static_cast<const volatile void*>(addr)))
#define SV_TSAN_ACQUIRE(addr) __tsan_acquire(const_cast<void*>(static_cast<const volatile void*>(addr)))
#define SV_TSAN_IGNORE_BEGIN() __tsan_ignore_thread_begin()
#define SV_TSAN_IGNORE_END() __tsan_ignore_thread_end()
#else
#define SV_TSAN_RELEASE(addr) static_cast<void>(0)
#define SV_TSAN_ACQUIRE(addr) static_cast<void>(0)
#define SV_TSAN_IGNORE_BEGIN() static_cast<void>(0)
#define SV_TSAN_IGNORE_END() static_cast<void>(0)
#endif
