package io.statebackend.incremental.loader;

import org.apache.flink.configuration.IllegalConfigurationException;

import java.net.URL;
import java.security.CodeSource;

/**
 * Makes sure the backend runs against the upstream RocksDB it was built for. Flink's distribution
 * bundles FRocksDB in the same package {@code org.rocksdb} and loads that package parent-first, so
 * a backend jar placed in {@code lib/} or in a job jar would silently link against it and fail at
 * the first call FRocksDB lacks.
 */
public final class RocksDBVersionGuard {

    /** Present in upstream RocksDB 7 and later, absent from FRocksDB 6.20. */
    private static final String UPSTREAM_MARKER = "org.rocksdb.HyperClockCache";

    /** Present only in FRocksDB. */
    private static final String FROCKSDB_MARKER = "org.rocksdb.FlinkCompactionFilter";

    private static volatile boolean verified;

    private RocksDBVersionGuard() {}

    /**
     * Checks the RocksDB classes visible to this backend's class loader.
     *
     * @throws IllegalConfigurationException naming the RocksDB found and how to install correctly
     */
    public static void check() {
        if (verified) {
            return;
        }
        ClassLoader loader = RocksDBVersionGuard.class.getClassLoader();
        Class<?> rocksDb = load("org.rocksdb.RocksDB", loader);
        boolean upstream = load(UPSTREAM_MARKER, loader) != null;
        boolean frocksdb = load(FROCKSDB_MARKER, loader) != null;
        if (rocksDb == null || !upstream || frocksdb) {
            throw new IllegalConfigurationException(
                    "The incremental RocksDB state backend needs upstream RocksDB (rocksdbjni"
                            + " 10.x) but found "
                            + describe(rocksDb, frocksdb)
                            + ". Flink's distribution bundles FRocksDB in the same package and"
                            + " loads it first, so the backend must not be in lib/ or in the job"
                            + " jar: unpack the distribution into $FLINK_HOME so that the backend"
                            + " and rocksdbjni are in plugins/statebackend-incremental/ and only"
                            + " the loader jar is in lib/.");
        }
        verified = true;
    }

    private static String describe(Class<?> rocksDb, boolean frocksdb) {
        if (rocksDb == null) {
            return "no RocksDB classes at all";
        }
        String source = sourceOf(rocksDb);
        String jar = source.substring(source.lastIndexOf('/') + 1);
        return (frocksdb ? "FRocksDB" : "an older RocksDB")
                + (jar.isEmpty() ? "" : " " + versionFromJarName(jar))
                + " (org.rocksdb.RocksDB loaded from "
                + source
                + ")";
    }

    static String versionFromJarName(String jar) {
        String name = jar.endsWith(".jar") ? jar.substring(0, jar.length() - 4) : jar;
        int dash = name.indexOf('-');
        while (dash >= 0 && dash + 1 < name.length()) {
            if (Character.isDigit(name.charAt(dash + 1))) {
                return name.substring(dash + 1);
            }
            dash = name.indexOf('-', dash + 1);
        }
        return name;
    }

    private static String sourceOf(Class<?> clazz) {
        CodeSource codeSource = clazz.getProtectionDomain().getCodeSource();
        URL location = codeSource == null ? null : codeSource.getLocation();
        return location == null ? "an unknown location" : location.toString();
    }

    private static Class<?> load(String name, ClassLoader loader) {
        try {
            return Class.forName(name, false, loader);
        } catch (ClassNotFoundException | LinkageError e) {
            return null;
        }
    }
}
