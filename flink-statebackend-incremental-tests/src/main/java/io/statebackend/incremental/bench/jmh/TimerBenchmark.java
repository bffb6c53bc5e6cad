package io.statebackend.incremental.bench.jmh;

import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.runtime.state.KeyGroupedInternalPriorityQueue;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.streaming.api.operators.TimerHeapInternalTimer;
import org.apache.flink.streaming.api.operators.TimerSerializer;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Timers in the backend's priority queues, created and named as Flink's timer services create them
 * ({@code _timer_state/event_} and the service's name): one timer per key preloaded at time {@code
 * key}.
 */
public class TimerBenchmark extends KeyedStateBenchmarkBase {

    private KeyGroupedInternalPriorityQueue<TimerHeapInternalTimer<Long, VoidNamespace>> firing;
    private KeyGroupedInternalPriorityQueue<TimerHeapInternalTimer<Long, VoidNamespace>> added;
    private long nextAddTime;

    @Override
    protected void preload() {
        TimerSerializer<Long, VoidNamespace> serializer =
                new TimerSerializer<>(LongSerializer.INSTANCE, VoidNamespaceSerializer.INSTANCE);
        firing = keyed.create("_timer_state/event_firing", serializer);
        added = keyed.create("_timer_state/event_added", serializer.duplicate());
        for (long key = 0; key < keyCount; key++) {
            firing.add(new TimerHeapInternalTimer<>(key, key, VoidNamespace.INSTANCE));
        }
    }

    /** Registers a timer later than all others of a random key, as event-time operators do. */
    @Benchmark
    public boolean timerAdd() {
        long key = selectRandomKey();
        return added.add(new TimerHeapInternalTimer<>(nextAddTime++, key, VoidNamespace.INSTANCE));
    }

    /**
     * Polls the earliest timer and registers the next one of its key, {@link #keyCount} later: a
     * timer that fires and re-arms itself, so the queue keeps its preloaded size.
     */
    @Benchmark
    public TimerHeapInternalTimer<Long, VoidNamespace> timerPoll() {
        TimerHeapInternalTimer<Long, VoidNamespace> timer = firing.poll();
        firing.add(
                new TimerHeapInternalTimer<>(
                        timer.getTimestamp() + keyCount, timer.getKey(), VoidNamespace.INSTANCE));
        return timer;
    }

    /** Empties the queue {@link #timerAdd()} fills, so it does not grow over a run. */
    @TearDown(Level.Iteration)
    public void pollAdded() {
        while (added.poll() != null) {
            // drained
        }
    }

    /** How many timers {@link #timerAdd()} registered and nothing polled yet, for checks. */
    public int addedTimers() {
        return added.size();
    }

    /** The earliest timer of the preloaded queue, for checks. */
    public TimerHeapInternalTimer<Long, VoidNamespace> earliestTimer() {
        return firing.peek();
    }
}
