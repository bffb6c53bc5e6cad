package io.statebackend.incremental.rocksdb;

import io.statebackend.incremental.IncrementalRocksDBConfigurableOptions;
import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBSettings;
import io.statebackend.incremental.rocksdb.options.ConfigValues;

import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.runtime.execution.Environment;
import org.apache.flink.runtime.memory.MemoryManager;
import org.apache.flink.runtime.memory.OpaqueMemoryResource;
import org.apache.flink.runtime.memory.SharedResources;
import org.apache.flink.util.Preconditions;

import org.rocksdb.Cache;
import org.rocksdb.LRUCache;
import org.rocksdb.RocksDB;
import org.rocksdb.WriteBufferManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.annotation.Nullable;
import javax.annotation.concurrent.GuardedBy;

import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The block cache and write buffer manager shared by all RocksDB instances of one slot, and the
 * size of every column family's write buffers.
 *
 * <p>All of RocksDB's memory is charged to the cache: data, index and filter blocks, and memtables
 * through the write buffer manager. The cache can only grow beyond its capacity by entries that
 * cannot be evicted, which are above all the memtables. The write buffer manager's limit alone does
 * not bound them: it flushes one column family at a time and skips those whose flush is still
 * pending, so under a write load faster than the flushes every column family fills its own write
 * buffers. The memtables of one column family are bounded, though, by {@value
 * #MAX_WRITE_BUFFER_NUMBER} write buffers (writes to it stop beyond that), so the write buffer size
 * is chosen from the number of column families that share these resources: together they cannot
 * hold more than {@code write-buffer-ratio} of the share. It is recomputed, and applied to every
 * instance, when that number changes enough to change the size.
 *
 * <p>Table readers (what RocksDB keeps of an open SST file outside the cache) cannot be charged to
 * the cache through the Java API; {@link #TABLE_READER_RESERVE_DIVISOR a small part} of the share
 * is left out of the cache for them.
 */
public final class RocksDBMemoryResources implements AutoCloseable {

    /** Distinct from Flink's own RocksDB backend so that both can share one slot. */
    static final String MANAGED_MEMORY_RESOURCE_ID = "state-incremental-rocksdb-managed-memory";

    static final String FIXED_MEMORY_RESOURCE_ID = "state-incremental-rocksdb-fixed-slot-memory";

    static final String FIXED_TM_MEMORY_RESOURCE_ID = "state-incremental-rocksdb-fixed-tm-memory";

    static {
        // the cache may be created before any database of this JVM is opened
        RocksDB.loadLibrary();
    }

    /** Memtables one column family may hold: one being written, one being flushed. */
    public static final int MAX_WRITE_BUFFER_NUMBER = 2;

    /**
     * Memtable bytes one column family may hold, in write buffers: {@value
     * #MAX_WRITE_BUFFER_NUMBER} memtables, each a write buffer plus the arena block (an eighth)
     * that overran it, rounded up for the arena's per-core shards.
     */
    static final double WRITE_BUFFERS_PER_COLUMN_FAMILY = 2.5;

    /** Smaller write buffers would make flushes and level-0 files too small to be of use. */
    static final long MIN_WRITE_BUFFER_SIZE = 64L << 10;

    /** RocksDB's default; larger ones only delay flushes. */
    static final long MAX_WRITE_BUFFER_SIZE = 64L << 20;

    /** The share divided by this is kept out of the cache, for table readers. */
    static final int TABLE_READER_RESERVE_DIVISOR = 32;

    private static final Logger LOG = LoggerFactory.getLogger(RocksDBMemoryResources.class);

    private final LRUCache cache;
    private final WriteBufferManager writeBufferManager;
    private final long share;
    private final long capacity;
    private final long writeBufferManagerCapacity;

    private final Object lock = new Object();

    /** Users of these resources and how many column families each holds. */
    @GuardedBy("lock")
    private final Map<WriteBufferUser, Integer> columnFamilies = new IdentityHashMap<>();

    @GuardedBy("lock")
    private long writeBufferSize;

    @GuardedBy("lock")
    private boolean warnedAboutTooManyColumnFamilies;

    private RocksDBMemoryResources(long share, double writeBufferRatio, double highPriRatio) {
        Preconditions.checkArgument(
                share > 0, "The memory for RocksDB must be positive: %s", share);
        this.share = share;
        this.capacity = share - share / TABLE_READER_RESERVE_DIVISOR;
        this.writeBufferManagerCapacity = (long) (share * writeBufferRatio);
        this.writeBufferSize = writeBufferSizeFor(writeBufferManagerCapacity, 1);
        // strict limit off: a full cache must not fail reads, only evict
        this.cache = new LRUCache(capacity, -1, false, highPriRatio);
        WriteBufferManager manager = null;
        try {
            manager = new WriteBufferManager(writeBufferManagerCapacity, cache);
        } finally {
            if (manager == null) {
                cache.close();
            }
        }
        this.writeBufferManager = manager;
    }

    /**
     * The write buffer size of each of {@code columnFamilies} column families that share {@code
     * budget} bytes of memtables, rounded down to a power of two or one and a half times one. Every
     * change costs RocksDB an options file per column family of the slot, so the size changes only
     * when the number of column families has grown or shrunk by a third or more; rounding to powers
     * of two alone would leave up to half of the budget unused, and with it write throughput when
     * few states share little memory.
     */
    static long writeBufferSizeFor(long budget, int columnFamilies) {
        final long exact =
                (long) (budget / (WRITE_BUFFERS_PER_COLUMN_FAMILY * Math.max(1, columnFamilies)));
        return Math.max(
                MIN_WRITE_BUFFER_SIZE,
                Math.min(MAX_WRITE_BUFFER_SIZE, roundDownToHalfPowerOfTwo(Math.max(1L, exact))));
    }

    /** The largest 2^k or 3 * 2^(k-1) that is at most {@code value}, which must be positive. */
    static long roundDownToHalfPowerOfTwo(long value) {
        final long power = Long.highestOneBit(value);
        final long oneAndAHalf = power + (power >> 1);
        return value >= oneAndAHalf ? oneAndAHalf : power;
    }

    /** Creates resources outside Flink's memory accounting, for tests and tools. */
    public static RocksDBMemoryResources create(
            long share, double writeBufferRatio, double highPriorityPoolRatio) {
        return new RocksDBMemoryResources(share, writeBufferRatio, highPriorityPoolRatio);
    }

    /**
     * Leases the shared resources, in Flink's order: a fixed amount per slot if configured, else
     * the operator's fraction of the slot's managed memory, else a fixed amount per TaskManager
     * ({@code state.backend.rocksdb.memory.fixed-per-tm} in the TaskManager's configuration, with
     * its ratios), else none (each instance then uses RocksDB's defaults and is not bounded).
     */
    @Nullable
    public static OpaqueMemoryResource<RocksDBMemoryResources> acquire(
            IncrementalRocksDBSettings settings, Environment env, double managedMemoryFraction)
            throws Exception {
        final double writeBufferRatio = settings.getWriteBufferRatio();
        final double highPriRatio = settings.getHighPriorityPoolRatio();
        final MemoryManager memoryManager = env.getMemoryManager();
        final Optional<MemorySize> fixed = settings.getFixedMemoryPerSlot();
        if (fixed.isPresent()) {
            return memoryManager.getExternalSharedMemoryResource(
                    FIXED_MEMORY_RESOURCE_ID,
                    size -> create(size, writeBufferRatio, highPriRatio),
                    fixed.get().getBytes());
        }
        if (settings.isUseManagedMemory() && managedMemoryFraction > 0) {
            return memoryManager.getSharedMemoryResourceForManagedMemory(
                    MANAGED_MEMORY_RESOURCE_ID,
                    size -> create(size, writeBufferRatio, highPriRatio),
                    managedMemoryFraction);
        }
        if (!settings.isUseManagedMemory()) {
            return acquirePerTaskManager(env);
        }
        return null;
    }

    @Nullable
    private static OpaqueMemoryResource<RocksDBMemoryResources> acquirePerTaskManager(
            Environment env) throws Exception {
        final ReadableConfig tmConfig = env.getTaskManagerInfo().getConfiguration();
        final MemorySize perTm =
                ConfigValues.read(
                        tmConfig, IncrementalRocksDBConfigurableOptions.FIX_PER_TM_MEMORY_SIZE);
        if (perTm == null || perTm.getBytes() <= 0) {
            return null;
        }
        // the TaskManager-wide resource is sized and split by the TaskManager's configuration
        // (read directly: an options factory named there may be visible to the job only)
        final double writeBufferRatio =
                ConfigValues.read(tmConfig, IncrementalRocksDBOptions.WRITE_BUFFER_RATIO);
        final double highPriRatio =
                ConfigValues.read(tmConfig, IncrementalRocksDBOptions.HIGH_PRIORITY_POOL_RATIO);
        final SharedResources shared = env.getSharedResources();
        final Object leaseHolder = new Object();
        final SharedResources.ResourceAndSize<RocksDBMemoryResources> resource =
                shared.getOrAllocateSharedResource(
                        FIXED_TM_MEMORY_RESOURCE_ID,
                        leaseHolder,
                        size -> create(size, writeBufferRatio, highPriRatio),
                        perTm.getBytes());
        return new OpaqueMemoryResource<>(
                resource.resourceHandle(),
                resource.size(),
                () -> shared.release(FIXED_TM_MEMORY_RESOURCE_ID, leaseHolder, unused -> {}));
    }

    public Cache getCache() {
        return cache;
    }

    public WriteBufferManager getWriteBufferManager() {
        return writeBufferManager;
    }

    /** The memory RocksDB may use, in bytes: the slot's share, or the fixed size per slot. */
    public long getShare() {
        return share;
    }

    /** The block cache capacity in bytes: the share less the reserve for table readers. */
    public long getCapacity() {
        return capacity;
    }

    public long getWriteBufferManagerCapacity() {
        return writeBufferManagerCapacity;
    }

    /** The current write buffer size of every column family that uses these resources. */
    public long getWriteBufferSize() {
        synchronized (lock) {
            return writeBufferSize;
        }
    }

    /** Sizes the write buffers of its column families as the resources tell it to. */
    public interface WriteBufferUser {
        /**
         * Applies a new write buffer size to every column family. Called with the resources' lock
         * held, from any thread: implementations must not call back into the resources.
         */
        void resizeWriteBuffers(long writeBufferSize);
    }

    /**
     * Records how many column families {@code user} holds now (zero removes it) and returns the
     * write buffer size for them. If the size changes, every user, {@code user} included, is
     * resized before this returns. A user must not hold a lock of its own when calling this that
     * {@link WriteBufferUser#resizeWriteBuffers} takes.
     */
    public long setColumnFamilies(WriteBufferUser user, int count) {
        Preconditions.checkNotNull(user, "The write buffer user is null.");
        Preconditions.checkArgument(count >= 0, "Negative column family count: %s", count);
        synchronized (lock) {
            if (count == 0) {
                columnFamilies.remove(user);
            } else {
                columnFamilies.put(user, count);
            }
            int total = 0;
            for (int perUser : columnFamilies.values()) {
                total += perUser;
            }
            final long size = writeBufferSizeFor(writeBufferManagerCapacity, total);
            if (!warnedAboutTooManyColumnFamilies
                    && size * WRITE_BUFFERS_PER_COLUMN_FAMILY * total
                            > writeBufferManagerCapacity) {
                warnedAboutTooManyColumnFamilies = true;
                LOG.warn(
                        "{} RocksDB column families (states and timer queues) share {} bytes of"
                                + " write buffers; at the minimum write buffer size of {} bytes"
                                + " their memtables may exceed it. Give RocksDB more managed memory"
                                + " or use fewer states per slot.",
                        total,
                        writeBufferManagerCapacity,
                        MIN_WRITE_BUFFER_SIZE);
            }
            if (size != writeBufferSize) {
                writeBufferSize = size;
                for (WriteBufferUser each : columnFamilies.keySet()) {
                    each.resizeWriteBuffers(size);
                }
            }
            return size;
        }
    }

    @Override
    public void close() {
        // the manager refers to the cache, so it goes first
        writeBufferManager.close();
        cache.close();
    }
}
