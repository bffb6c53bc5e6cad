package io.statebackend.incremental.timers;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The array-backed key cache behaves as a sorted set in RocksDB's bytewise order. */
class SortedKeyCacheTest {

    @Test
    void randomizedOperationsMatchASortedSet() {
        Random random = new Random(42);
        for (int capacity : new int[] {1, 2, 7, 128}) {
            SortedKeyCache cache = new SortedKeyCache(capacity);
            TreeSet<byte[]> model = new TreeSet<>(Arrays::compareUnsigned);
            for (int step = 0; step < 20_000; step++) {
                // few distinct keys, so that duplicates and misses are frequent; 0xFF bytes too
                byte[] key = {(byte) random.nextInt(3), (byte) (0xFD + random.nextInt(3))};
                switch (random.nextInt(5)) {
                    case 0:
                    case 1:
                        if (model.size() <= capacity) {
                            assertThat(cache.add(key)).isEqualTo(model.add(key));
                        }
                        break;
                    case 2:
                        assertThat(cache.remove(key)).isEqualTo(model.remove(key));
                        break;
                    case 3:
                        if (!model.isEmpty()) {
                            assertThat(cache.pollFirst()).isEqualTo(model.pollFirst());
                        }
                        break;
                    default:
                        if (!model.isEmpty()) {
                            assertThat(cache.pollLast()).isEqualTo(model.pollLast());
                        }
                }
                assertThat(cache.size()).isEqualTo(model.size());
                assertThat(cache.contains(key)).isEqualTo(model.contains(key));
                if (!model.isEmpty()) {
                    assertThat(cache.first()).isEqualTo(model.first());
                    assertThat(cache.last()).isEqualTo(model.last());
                }
            }
        }
    }

    @Test
    void pollingTheFrontAndAddingAtTheBackWrapsAround() {
        SortedKeyCache cache = new SortedKeyCache(4);
        for (int i = 0; i < 100; i++) {
            assertThat(cache.add(new byte[] {(byte) i})).isTrue();
            if (cache.size() > 3) {
                assertThat(cache.pollFirst()).containsExactly((byte) (i - 3));
            }
        }
        assertThat(cache.first()).containsExactly((byte) 97);
        assertThat(cache.last()).containsExactly((byte) 99);
    }

    @Test
    void emptyCacheHasNoFirstOrLast() {
        SortedKeyCache cache = new SortedKeyCache(2);
        assertThat(cache.isEmpty()).isTrue();
        assertThatThrownBy(cache::first).isInstanceOf(java.util.NoSuchElementException.class);
        assertThatThrownBy(cache::pollLast).isInstanceOf(java.util.NoSuchElementException.class);
        cache.add(new byte[] {1});
        cache.pollLast();
        assertThat(cache.isEmpty()).isTrue();
    }
}
