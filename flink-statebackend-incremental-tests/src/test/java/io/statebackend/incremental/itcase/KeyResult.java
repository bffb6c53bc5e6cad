package io.statebackend.incremental.itcase;

import java.util.Objects;

/**
 * The state of one key as a test job reports it; a POJO so that Flink serializes it without Kryo.
 * Jobs that do not track a figure leave it at 0.
 */
public final class KeyResult {
    public int key;
    public long sum;
    public long count;
    public long timersFired;
    public long listSize;
    public long listSum;
    public long mapSize;
    public long mapValueSum;

    public KeyResult() {}

    KeyResult(
            int key,
            long sum,
            long count,
            long timersFired,
            long listSize,
            long listSum,
            long mapSize,
            long mapValueSum) {
        this.key = key;
        this.sum = sum;
        this.count = count;
        this.timersFired = timersFired;
        this.listSize = listSize;
        this.listSum = listSum;
        this.mapSize = mapSize;
        this.mapValueSum = mapValueSum;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof KeyResult)) {
            return false;
        }
        KeyResult that = (KeyResult) o;
        return key == that.key
                && sum == that.sum
                && count == that.count
                && timersFired == that.timersFired
                && listSize == that.listSize
                && listSum == that.listSum
                && mapSize == that.mapSize
                && mapValueSum == that.mapValueSum;
    }

    @Override
    public int hashCode() {
        return Objects.hash(key, sum, count, timersFired, listSize, listSum, mapSize, mapValueSum);
    }

    @Override
    public String toString() {
        return String.format(
                "KeyResult{key=%d, sum=%d, count=%d, timersFired=%d, listSize=%d, listSum=%d,"
                        + " mapSize=%d, mapValueSum=%d}",
                key, sum, count, timersFired, listSize, listSum, mapSize, mapValueSum);
    }
}
