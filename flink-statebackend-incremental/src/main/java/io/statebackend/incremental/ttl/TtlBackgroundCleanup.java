package io.statebackend.incremental.ttl;

import io.statebackend.incremental.state.AbstractRocksDBState;

import org.apache.flink.annotation.VisibleForTesting;
import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;
import org.apache.flink.util.Preconditions;

import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.WriteOptions;

import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * TTL's background cleanup without a compaction filter: bounded slices of every TTL state's column
 * family are scanned on the task thread between records, and expired entries in them are deleted.
 *
 * <p>When a slice is due (see {@link CleanupPace}: slices take at most a small share of the task
 * thread's time) one state, in turn, gets one: its {@link TtlStateScanner} reads at most {@value
 * #ENTRIES_PER_SLICE} entries after the last key of its previous slice and deletes the expired
 * ones. Read and delete happen in one call on the thread that owns every write, so an entry
 * rewritten by the task is never deleted: it was either rewritten before the slice read it (then it
 * is not expired) or after the slice deleted it. After the last key of a state the next slice
 * starts at its first key, so every entry is reached, also those never read again.
 *
 * <p>The pace is judged by whole passes over a state, not by single slices, because expired and
 * live keys lie in separate runs of the key order (keys are ordered by key group first): a live run
 * must not slow down the expired run after it. Slices read with {@code fill_cache} off, so the scan
 * does not evict the task's blocks.
 *
 * <p>Records drive the slices, so a task that gets no records would never clean. The notification
 * of a completed checkpoint also runs on the task thread: it runs the slices that are due by then,
 * at most {@value #MAX_SLICES_PER_NOTIFICATION} of them and for at most {@link
 * #MAX_NANOS_PER_NOTIFICATION} nanoseconds, so expired entries of an idle task go too, a few
 * thousand per checkpoint, without holding up records that arrive.
 */
public final class TtlBackgroundCleanup {

    /** RocksDB entries read by one slice at most. */
    public static final int ENTRIES_PER_SLICE = 256;

    /** Slices run by one checkpoint notification at most. */
    static final int MAX_SLICES_PER_NOTIFICATION = 32;

    /** Time one checkpoint notification spends on slices at most. */
    static final long MAX_NANOS_PER_NOTIFICATION = 10_000_000L;

    private final RocksDB db;
    private final ReadOptions readOptions;
    private final WriteOptions writeOptions;
    private final TtlTimeProvider timeProvider;
    private final boolean enabled;

    private final List<TtlStateScanner> scanners = new ArrayList<>();
    private CleanupPace pace;
    private int nextScanner;

    public TtlBackgroundCleanup(
            RocksDB db,
            ReadOptions readOptions,
            WriteOptions writeOptions,
            TtlTimeProvider timeProvider,
            boolean enabled) {
        this.db = Preconditions.checkNotNull(db, "RocksDB must not be null");
        Preconditions.checkNotNull(readOptions, "Read options are missing");
        this.readOptions = new ReadOptions(readOptions).setFillCache(false);
        this.writeOptions = Preconditions.checkNotNull(writeOptions, "Write options are missing");
        this.timeProvider = Preconditions.checkNotNull(timeProvider, "Time provider is missing");
        this.enabled = enabled;
        this.pace = new CleanupPace(System::nanoTime);
    }

    /** Starts or stops cleaning a state after it was (re-)registered, following its TTL config. */
    public void register(AbstractRocksDBState<?, ?, ?> state, StateDescriptor.Type type) {
        TtlStateScanner existing = null;
        for (TtlStateScanner scanner : scanners) {
            if (scanner.getStateName().equals(state.getStateName())) {
                existing = scanner;
            }
        }
        if (existing != null) {
            scanners.remove(existing);
        }
        StateTtlConfig config = state.getTtlConfig();
        if (enabled && TtlCleanupStrategies.inBackground(config)) {
            StateTtlConfig.RocksdbCompactFilterCleanupStrategy strategy =
                    config.getCleanupStrategies().getRocksdbCompactFilterCleanupStrategy();
            scanners.add(
                    new TtlStateScanner(
                            db,
                            readOptions,
                            state,
                            type,
                            config.getTimeToLive().toMillis(),
                            strategy.getQueryTimeAfterNumEntries(),
                            timeProvider,
                            existing == null ? null : existing.getLastKey()));
        }
        nextScanner = 0;
    }

    /** Called by the task thread once per record; runs a slice when one is due. */
    public void onRecord() {
        if (!scanners.isEmpty() && pace.sliceDue()) {
            runSlice();
        }
    }

    /**
     * Called by the task thread when a checkpoint completed; runs the slices that are due, within
     * the bounds of one notification.
     */
    public void onCheckpointComplete() {
        if (scanners.isEmpty()) {
            return;
        }
        long start = pace.now();
        for (int slices = 0; slices < MAX_SLICES_PER_NOTIFICATION && pace.sliceDueNow(); slices++) {
            runSlice();
            if (pace.now() - start >= MAX_NANOS_PER_NOTIFICATION) {
                break;
            }
        }
    }

    private void runSlice() {
        long start = pace.now();
        if (nextScanner >= scanners.size()) {
            nextScanner = 0;
        }
        TtlStateScanner scanner = scanners.get(nextScanner++);
        int cleaned = scanner.scan(ENTRIES_PER_SLICE, writeOptions);
        pace.sliceEnded(start, cleaned > 0, scanner.endedEmptyPass());
    }

    /** Whether any state is cleaned in the background. */
    public boolean isActive() {
        return !scanners.isEmpty();
    }

    /** Whether slices run at the idle pace, after a pass that found nothing to clean. */
    @VisibleForTesting
    public boolean isIdle() {
        return pace.isIdle();
    }

    /** Replaces the clock that paces the slices. */
    @VisibleForTesting
    public void setPaceClock(LongSupplier nanoClock) {
        pace = new CleanupPace(nanoClock);
    }

    /** Forgets all states; the backend calls it before it closes the database. */
    public void clear() {
        scanners.clear();
        readOptions.close();
    }
}
