package io.statebackend.incremental.plugin;

import java.net.URL;
import java.net.URLClassLoader;

/**
 * Loads the classes under the given package prefixes from its own URLs first, everything else from
 * its parent: a jar placed where Flink would load it (its {@code lib/} folder or a job jar) while
 * Flink's own classes, and FRocksDB, come from the class path.
 */
public final class ChildFirstClassLoader extends URLClassLoader {

    static {
        ClassLoader.registerAsParallelCapable();
    }

    private final String[] childFirstPrefixes;

    public ChildFirstClassLoader(URL[] urls, ClassLoader parent, String... childFirstPrefixes) {
        super(urls, parent);
        this.childFirstPrefixes = childFirstPrefixes.clone();
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
        synchronized (getClassLoadingLock(name)) {
            Class<?> loaded = findLoadedClass(name);
            if (loaded == null && isChildFirst(name)) {
                try {
                    loaded = findClass(name);
                } catch (ClassNotFoundException e) {
                    // not in this loader's jars: the parent's, if any
                }
            }
            if (loaded == null) {
                return super.loadClass(name, resolve);
            }
            if (resolve) {
                resolveClass(loaded);
            }
            return loaded;
        }
    }

    private boolean isChildFirst(String name) {
        for (String prefix : childFirstPrefixes) {
            if (name.startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }
}
