// Small helpers Swift cannot express directly: a prefetch hint and a one-byte spin lock.
#include "shortlist_kernels.h"

void sk_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

void sk_spin_lock(uint8_t *lock) {
    while (__atomic_test_and_set(lock, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(lock, __ATOMIC_RELAXED)) __builtin_ia32_pause();
    }
}

void sk_spin_unlock(uint8_t *lock) { __atomic_clear(lock, __ATOMIC_RELEASE); }
