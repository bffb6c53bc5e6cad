package io.statebackend.incremental.rocksdb;

import org.apache.flink.runtime.state.RegisteredStateMetaInfoBase;

import org.rocksdb.ColumnFamilyHandle;

/** A state registered with the backend: its column family and its current meta info. */
public final class RegisteredRocksDBState {

    private final ColumnFamilyHandle columnFamily;
    private RegisteredStateMetaInfoBase metaInfo;

    public RegisteredRocksDBState(
            ColumnFamilyHandle columnFamily, RegisteredStateMetaInfoBase metaInfo) {
        this.columnFamily = columnFamily;
        this.metaInfo = metaInfo;
    }

    public ColumnFamilyHandle getColumnFamily() {
        return columnFamily;
    }

    public RegisteredStateMetaInfoBase getMetaInfo() {
        return metaInfo;
    }

    public void setMetaInfo(RegisteredStateMetaInfoBase metaInfo) {
        this.metaInfo = metaInfo;
    }
}
