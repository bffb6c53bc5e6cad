package io.statebackend.incremental.bench.jmh;

import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.typeutils.base.LongSerializer;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.TearDown;

/**
 * List state: reading a whole preloaded list of {@link #LIST_LENGTH} elements, and appending one
 * element (to a second state that is emptied after every iteration, so lists do not grow without
 * bound over a run).
 */
public class ListStateBenchmark extends KeyedStateBenchmarkBase {

    public static final int LIST_LENGTH = 10;

    private ListState<Long> readState;
    private ListState<Long> appendState;
    private boolean appended;

    @Override
    protected void preload() throws Exception {
        readState = state(new ListStateDescriptor<>("list", LongSerializer.INSTANCE));
        appendState = state(new ListStateDescriptor<>("list-append", LongSerializer.INSTANCE));
        for (long key = 0; key < keyCount; key++) {
            keyed.setCurrentKey(key);
            for (int i = 0; i < LIST_LENGTH; i++) {
                readState.add(key + i);
            }
        }
    }

    /** Reads the list and every element of it; returns their sum. */
    @Benchmark
    public long listGet() throws Exception {
        selectRandomKey();
        long sum = 0;
        for (Long element : readState.get()) {
            sum += element;
        }
        return sum;
    }

    @Benchmark
    public void listAdd() throws Exception {
        appendState.add(selectRandomKey());
        appended = true;
    }

    /** The appended elements, for checks. */
    public Iterable<Long> appendedOfLastKey() throws Exception {
        return appendState.get();
    }

    @TearDown(Level.Iteration)
    public void clearAppended() {
        if (!appended) {
            return;
        }
        for (long key = 0; key < keyCount; key++) {
            keyed.setCurrentKey(key);
            appendState.clear();
        }
        appended = false;
    }
}
