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

import org.rocksdb.Cache;
import org.rocksdb.LRUCache;
import org.rocksdb.RocksDB;
import org.rocksdb.WriteBufferManager;

import javax.annotation.Nullable;

import java.util.Optional;

/**
 * The block cache and write buffer manager shared by all RocksDB instances of one slot.
 *
 * <p>The cache's capacity is exactly the memory the slot grants; the write buffer manager charges
 * memtables to that same cache, so data blocks, index and filter blocks and memtables together stay
 * within the slot's share.
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

    private final LRUCache cache;
    private final WriteBufferManager writeBufferManager;
    private final long capacity;
    private final long writeBufferManagerCapacity;

    private RocksDBMemoryResources(long capacity, double writeBufferRatio, double highPriRatio) {
        this.capacity = capacity;
        this.writeBufferManagerCapacity = (long) (capacity * writeBufferRatio);
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

    /** Creates resources outside Flink's memory accounting, for tests and tools. */
    public static RocksDBMemoryResources create(
            long capacity, double writeBufferRatio, double highPriorityPoolRatio) {
        return new RocksDBMemoryResources(capacity, writeBufferRatio, highPriorityPoolRatio);
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

    /** The block cache capacity in bytes: the slot's share. */
    public long getCapacity() {
        return capacity;
    }

    public long getWriteBufferManagerCapacity() {
        return writeBufferManagerCapacity;
    }

    @Override
    public void close() {
        // the manager refers to the cache, so it goes first
        writeBufferManager.close();
        cache.close();
    }
}
