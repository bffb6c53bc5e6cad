package io.statebackend.incremental.plugin;

import org.apache.flink.contrib.streaming.state.RocksDBOptionsFactory;

import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;

import java.util.Collection;

/** An options factory written for Flink's own RocksDB backend, on FRocksDB's classes. */
public class FlinkStyleOptionsFactory implements RocksDBOptionsFactory {

    private static final long serialVersionUID = 1L;

    @Override
    public DBOptions createDBOptions(
            DBOptions currentOptions, Collection<AutoCloseable> handlesToClose) {
        return currentOptions.setMaxBackgroundJobs(6);
    }

    @Override
    public ColumnFamilyOptions createColumnOptions(
            ColumnFamilyOptions currentOptions, Collection<AutoCloseable> handlesToClose) {
        return currentOptions;
    }
}
