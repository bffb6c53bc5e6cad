package io.statebackend.incremental.e2e;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

import java.util.ArrayList;
import java.util.List;

/**
 * The job of the end-to-end test: a keyed job whose exact state is known at every record, so that
 * it can tell by itself whether a restore brought back exactly the state it had.
 *
 * <p>One source subtask emits the records {@code 0 .. keys * recordsPerKey - 1} in order; record
 * {@code i} belongs to key {@code i % keys} and is that key's record number {@code seq = i / keys}.
 * Keyed streams keep the order of one sender, so each key sees its records as {@code seq = 0, 1, 2,
 * ...}, and before record {@code seq} its state must be exactly what records {@code 0 .. seq-1}
 * wrote: a count, a sum, counts per bucket in map state, the records from the last multiple of
 * {@value #LIST_SPAN} on in list state, a payload string, and one event-time timer per record that
 * must fire in order. Each key also holds {@value #COLD_BYTES} bytes written at its first record
 * and never again: a state of its own (a column family of its own in RocksDB) that later
 * checkpoints of an incremental backend refer to instead of uploading it again. Any difference
 * fails the task with a message that starts with {@value #FAILURE_PREFIX}. When the timer of a
 * key's last record fires, the job prints one line {@value #FINAL_PREFIX} with the key's final
 * state (to the TaskManager's stdout).
 *
 * <p>Arguments: {@code --keys K --records-per-key N --rate R} (records per second; 0 for no limit).
 * The rate may change between runs from a savepoint: it is not state.
 */
public final class StateCheckJob {

    static final String FAILURE_PREFIX = "E2E state check failed";
    static final String FINAL_PREFIX = "E2E-FINAL";

    private static final String ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

    /** The map state counts records per bucket {@code seq % BUCKETS}. */
    private static final int BUCKETS = 4;

    /** The list state holds the records since the last multiple of {@code LIST_SPAN}. */
    private static final int LIST_SPAN = 5;

    /** Size of each key's write-once state. */
    private static final int COLD_BYTES = 2048;

    /** The event-time timer of a record fires this many ticks after its timestamp. */
    private static final long TIMER_DELAY = 1000L;

    private StateCheckJob() {}

    public static void main(String[] args) throws Exception {
        int keys = 1000;
        long recordsPerKey = 200;
        long rate = 1000;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--keys":
                    keys = Integer.parseInt(args[i + 1]);
                    break;
                case "--records-per-key":
                    recordsPerKey = Long.parseLong(args[i + 1]);
                    break;
                case "--rate":
                    rate = Long.parseLong(args[i + 1]);
                    break;
                default:
                    throw new IllegalArgumentException("Unknown argument " + args[i]);
            }
        }

        final StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        // fixed, so that key groups stay the same whatever the parallelism of a run
        env.setMaxParallelism(128);

        final DataGeneratorSource<Record> source =
                new DataGeneratorSource<>(
                        new RecordGenerator(keys),
                        keys * recordsPerKey,
                        rate > 0 ? RateLimiterStrategy.perSecond(rate) : RateLimiterStrategy.noOp(),
                        TypeInformation.of(Record.class));

        env.fromSource(
                        source,
                        WatermarkStrategy.<Record>forMonotonousTimestamps()
                                .withTimestampAssigner((record, previous) -> record.index),
                        "records")
                .uid("records")
                // one sender, so that every key sees its records in order
                .setParallelism(1)
                .keyBy(record -> record.key)
                .process(new CheckedState(keys, recordsPerKey))
                .uid("checked-state")
                .name("checked-state")
                .print()
                .uid("print")
                .name("print");

        env.execute("incremental state backend e2e");
    }

    /** Record {@code index} of the sequence: key {@code index % keys}, number {@code seq}. */
    public static final class Record {
        public int key;
        public long seq;
        public long index;

        public Record() {}

        Record(int key, long seq, long index) {
            this.key = key;
            this.seq = seq;
            this.index = index;
        }
    }

    private static final class RecordGenerator implements GeneratorFunction<Long, Record> {

        private static final long serialVersionUID = 1L;

        private final int keys;

        RecordGenerator(int keys) {
            this.keys = keys;
        }

        @Override
        public Record map(Long index) {
            return new Record((int) (index % keys), index / keys, index);
        }
    }

    /** Checks each key's state against the records it has seen, then updates it. */
    private static final class CheckedState extends KeyedProcessFunction<Integer, Record, String> {

        private static final long serialVersionUID = 1L;

        private final int keys;
        private final long recordsPerKey;

        private transient ValueState<Long> count;
        private transient ValueState<Long> sum;
        private transient ValueState<String> payload;
        private transient ValueState<String> cold;
        private transient ValueState<Long> timersFired;
        private transient MapState<Integer, Long> perBucket;
        private transient ListState<Long> recent;
        private transient Counter stateChecks;

        CheckedState(int keys, long recordsPerKey) {
            this.keys = keys;
            this.recordsPerKey = recordsPerKey;
        }

        @Override
        public void open(OpenContext openContext) {
            count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Types.LONG));
            sum = getRuntimeContext().getState(new ValueStateDescriptor<>("sum", Types.LONG));
            payload =
                    getRuntimeContext()
                            .getState(new ValueStateDescriptor<>("payload", Types.STRING));
            cold = getRuntimeContext().getState(new ValueStateDescriptor<>("cold", Types.STRING));
            timersFired =
                    getRuntimeContext()
                            .getState(new ValueStateDescriptor<>("timers-fired", Types.LONG));
            perBucket =
                    getRuntimeContext()
                            .getMapState(
                                    new MapStateDescriptor<>("per-bucket", Types.INT, Types.LONG));
            recent =
                    getRuntimeContext()
                            .getListState(new ListStateDescriptor<>("recent", Types.LONG));
            // records whose key's state was found exactly as expected, since this task started
            stateChecks = getRuntimeContext().getMetricGroup().counter("stateChecks");
        }

        @Override
        public void processElement(Record record, Context ctx, Collector<String> out)
                throws Exception {
            final int key = record.key;
            final long seq = record.seq;

            // before record seq, the key has seen exactly the records 0 .. seq-1
            expect(key, seq, "count", seq, orZero(count.value()));
            expect(key, seq, "sum", expectedSum(key, seq), orZero(sum.value()));
            for (int bucket = 0; bucket < BUCKETS; bucket++) {
                final long expectedInBucket = seq / BUCKETS + (bucket < seq % BUCKETS ? 1 : 0);
                expect(
                        key,
                        seq,
                        "per-bucket[" + bucket + "]",
                        expectedInBucket,
                        orZero(perBucket.get(bucket)));
            }
            // the list restarts at every multiple of LIST_SPAN
            final List<Long> expectedRecent = new ArrayList<>();
            if (seq > 0) {
                for (long s = (seq - 1) - (seq - 1) % LIST_SPAN; s < seq; s++) {
                    expectedRecent.add(s);
                }
            }
            final List<Long> actualRecent = new ArrayList<>();
            final Iterable<Long> recentValues = recent.get();
            if (recentValues != null) {
                for (Long value : recentValues) {
                    actualRecent.add(value);
                }
            }
            expect(key, seq, "recent", expectedRecent, actualRecent);
            expect(key, seq, "payload", seq == 0 ? null : payload(key, seq - 1), payload.value());
            final String coldValue = cold.value();
            if (seq == 0 ? coldValue != null : !coldPayload(key).equals(coldValue)) {
                fail(
                        key,
                        seq,
                        "cold",
                        seq == 0 ? null : "the key's " + COLD_BYTES + " characters",
                        coldValue == null ? null : coldValue.length() + " other characters");
            }
            final long fired = orZero(timersFired.value());
            if (fired > seq) {
                fail(key, seq, "timers-fired", "at most " + seq, fired);
            }

            count.update(seq + 1);
            sum.update(expectedSum(key, seq + 1));
            final int bucket = (int) (seq % BUCKETS);
            perBucket.put(bucket, orZero(perBucket.get(bucket)) + 1);
            if (seq % LIST_SPAN == 0) {
                recent.update(List.of(seq));
            } else {
                recent.add(seq);
            }
            payload.update(payload(key, seq));
            if (seq == 0) {
                cold.update(coldPayload(key));
            }
            ctx.timerService().registerEventTimeTimer(record.index + TIMER_DELAY);
            stateChecks.inc();
        }

        @Override
        public void onTimer(long timestamp, OnTimerContext ctx, Collector<String> out)
                throws Exception {
            final int key = ctx.getCurrentKey();
            final long seq = (timestamp - TIMER_DELAY - key) / keys;
            // timers fire in timestamp order: exactly the timers of records 0 .. seq-1 fired
            expect(key, seq, "timers-fired", seq, orZero(timersFired.value()));
            final long seen = orZero(count.value());
            if (seen <= seq) {
                fail(key, seq, "count at timer", "more than " + seq, seen);
            }
            timersFired.update(seq + 1);

            if (seq == recordsPerKey - 1) {
                out.collect(
                        String.format(
                                "%s key=%d count=%d sum=%d timers=%d buckets=%d/%d/%d/%d",
                                FINAL_PREFIX,
                                key,
                                seen,
                                orZero(sum.value()),
                                seq + 1,
                                orZero(perBucket.get(0)),
                                orZero(perBucket.get(1)),
                                orZero(perBucket.get(2)),
                                orZero(perBucket.get(3))));
            }
        }

        private static long expectedSum(int key, long records) {
            // the value of record seq is key + seq
            return records * key + records * (records - 1) / 2;
        }

        private static String payload(int key, long seq) {
            return "key " + key + " record " + seq + " ----------------------------------------";
        }

        /** Pseudo-random letters and digits, so that compression leaves most of their size. */
        private static String coldPayload(int key) {
            final char[] chars = new char[COLD_BYTES];
            long state = key * 0x9E3779B97F4A7C15L + 1;
            for (int i = 0; i < chars.length; i++) {
                state ^= state << 13;
                state ^= state >>> 7;
                state ^= state << 17;
                chars[i] = ALPHABET.charAt((int) Long.remainderUnsigned(state, ALPHABET.length()));
            }
            return new String(chars);
        }

        private static long orZero(Long value) {
            return value == null ? 0L : value;
        }

        private static void expect(
                int key, long seq, String state, Object expected, Object actual) {
            if (expected == null ? actual != null : !expected.equals(actual)) {
                fail(key, seq, state, expected, actual);
            }
        }

        private static void fail(int key, long seq, String state, Object expected, Object actual) {
            throw new IllegalStateException(
                    String.format(
                            "%s: key %d, record %d: state '%s' is %s, expected %s",
                            FAILURE_PREFIX, key, seq, state, actual, expected));
        }
    }
}
