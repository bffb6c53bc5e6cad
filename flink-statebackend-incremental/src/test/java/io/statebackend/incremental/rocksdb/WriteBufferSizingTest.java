package io.statebackend.incremental.rocksdb;

import org.junit.jupiter.api.Test;

import static io.statebackend.incremental.rocksdb.RocksDBMemoryResources.MAX_WRITE_BUFFER_SIZE;
import static io.statebackend.incremental.rocksdb.RocksDBMemoryResources.MIN_WRITE_BUFFER_SIZE;
import static io.statebackend.incremental.rocksdb.RocksDBMemoryResources.WRITE_BUFFERS_PER_COLUMN_FAMILY;
import static io.statebackend.incremental.rocksdb.RocksDBMemoryResources.roundDownToHalfPowerOfTwo;
import static io.statebackend.incremental.rocksdb.RocksDBMemoryResources.writeBufferSizeFor;
import static org.assertj.core.api.Assertions.assertThat;

/** The write buffer size for a budget shared by a number of column families. */
class WriteBufferSizingTest {

    private static final long MB = 1L << 20;

    @Test
    void roundsDownToPowersOfTwoAndTheirMidpoints() {
        assertThat(roundDownToHalfPowerOfTwo(1)).isEqualTo(1);
        assertThat(roundDownToHalfPowerOfTwo(2)).isEqualTo(2);
        assertThat(roundDownToHalfPowerOfTwo(3)).isEqualTo(3);
        assertThat(roundDownToHalfPowerOfTwo(5)).isEqualTo(4);
        assertThat(roundDownToHalfPowerOfTwo(7)).isEqualTo(6);
        assertThat(roundDownToHalfPowerOfTwo(16 * MB - 1)).isEqualTo(12 * MB);
        assertThat(roundDownToHalfPowerOfTwo(16 * MB)).isEqualTo(16 * MB);
        assertThat(roundDownToHalfPowerOfTwo(24 * MB - 1)).isEqualTo(16 * MB);
        assertThat(roundDownToHalfPowerOfTwo(24 * MB)).isEqualTo(24 * MB);
    }

    /** 128 MiB of managed memory with Flink's write buffer ratio of 0.5, one state. */
    @Test
    void oneStateInALittleMemoryGetsMoreThanHalfItsBudget() {
        long budget = 64 * MB;
        assertThat(writeBufferSizeFor(budget, 1)).isEqualTo(24 * MB);
        assertThat(writeBufferSizeFor(budget, 2)).isEqualTo(12 * MB);
        assertThat(writeBufferSizeFor(budget, 3)).isEqualTo(8 * MB);
    }

    @Test
    void staysWithinTheBudgetAndUsesAtLeastTwoThirdsOfIt() {
        for (long budget = MB; budget <= 4096 * MB; budget += 7 * MB + 12_345) {
            for (int columnFamilies = 1; columnFamilies <= 400; columnFamilies++) {
                long size = writeBufferSizeFor(budget, columnFamilies);
                double exact = budget / (WRITE_BUFFERS_PER_COLUMN_FAMILY * columnFamilies);
                assertThat(size).isBetween(MIN_WRITE_BUFFER_SIZE, MAX_WRITE_BUFFER_SIZE);
                if (size > MIN_WRITE_BUFFER_SIZE) {
                    assertThat((double) size)
                            .as("budget %d, %d column families", budget, columnFamilies)
                            .isLessThanOrEqualTo(exact);
                }
                if (size < MAX_WRITE_BUFFER_SIZE && exact >= MIN_WRITE_BUFFER_SIZE) {
                    assertThat((double) size)
                            .as("budget %d, %d column families", budget, columnFamilies)
                            .isGreaterThan(exact * 2 / 3);
                }
            }
        }
    }

    @Test
    void isBoundedByRocksDBsDefaultAndAFloor() {
        assertThat(writeBufferSizeFor(4096 * MB, 1)).isEqualTo(MAX_WRITE_BUFFER_SIZE);
        assertThat(writeBufferSizeFor(MB, 1000)).isEqualTo(MIN_WRITE_BUFFER_SIZE);
    }
}
