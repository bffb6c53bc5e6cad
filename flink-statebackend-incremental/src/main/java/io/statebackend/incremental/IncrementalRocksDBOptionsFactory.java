package io.statebackend.incremental;

import org.apache.flink.configuration.Configuration;

import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.ReadOptions;
import org.rocksdb.WriteOptions;

import java.io.Serializable;
import java.util.Collection;

/**
 * Tunes the RocksDB options of this backend in code, named by {@code
 * state.backend.rocksdb.options-factory}. It has the shape of Flink's {@code
 * org.apache.flink.contrib.streaming.state.RocksDBOptionsFactory}, but on the classes of upstream
 * RocksDB that this backend runs on; a factory written for Flink's backend is ported by
 * implementing this interface instead, with the same method bodies.
 *
 * <p>The factory is applied after the predefined options and the configured keys. The backend then
 * applies what it cannot do without: the list merge operator, total-order iteration, and, with
 * managed or fixed memory, the shared block cache and write buffer manager. Put the factory's jar
 * into {@code plugins/statebackend-incremental/} beside the backend, so that both see the same
 * RocksDB classes.
 *
 * <p>Options are created for every database the backend opens; native objects a method creates
 * (filters, caches, ...) go into {@code handlesToClose} and are closed with that database.
 */
public interface IncrementalRocksDBOptionsFactory extends Serializable {

    /** Returns the DB options to use, usually {@code currentOptions} after changes. */
    DBOptions createDBOptions(DBOptions currentOptions, Collection<AutoCloseable> handlesToClose);

    /** Returns the column family options to use, usually {@code currentOptions} after changes. */
    ColumnFamilyOptions createColumnOptions(
            ColumnFamilyOptions currentOptions, Collection<AutoCloseable> handlesToClose);

    /**
     * Returns the native metric switches to use: the {@code state.backend.rocksdb.metrics.*} keys
     * and their values as configured, which the factory may change.
     */
    default Configuration createNativeMetricsOptions(Configuration nativeMetricOptions) {
        return nativeMetricOptions;
    }

    /** Returns the write options to use; the write-ahead log is off by default. */
    default WriteOptions createWriteOptions(
            WriteOptions currentOptions, Collection<AutoCloseable> handlesToClose) {
        return currentOptions;
    }

    /** Returns the read options to use; iterators always seek in total order. */
    default ReadOptions createReadOptions(
            ReadOptions currentOptions, Collection<AutoCloseable> handlesToClose) {
        return currentOptions;
    }
}
