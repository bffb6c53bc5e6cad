package io.statebackend.incremental.bench.jmh;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;

import org.apache.flink.runtime.state.AbstractKeyedStateBackend;

import java.util.Collection;

/**
 * Compacts states of this backend. A class of its own: the JVM that runs Flink's RocksDB backend
 * does not have this backend's classes and never loads it.
 */
final class IncrementalCompaction {

    private IncrementalCompaction() {}

    static void compact(AbstractKeyedStateBackend<?> keyed, Collection<String> stateNames)
            throws Exception {
        IncrementalRocksDBKeyedStateBackend<?> backend =
                (IncrementalRocksDBKeyedStateBackend<?>) keyed;
        for (String name : stateNames) {
            backend.getDb().compactRange(backend.getColumnFamily(name));
        }
    }
}
