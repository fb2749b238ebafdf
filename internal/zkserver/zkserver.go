// Package zkserver finds the real ZooKeeper 3.8 that Debian's zookeeper
// package installs, which the comparison test and `make compare` run on
// loopback beside Canopy.
package zkserver

import (
	"fmt"
	"os"
	"os/exec"
)

// The jars of Debian's zookeeper package.
const (
	Jar         = "/usr/share/java/zookeeper.jar"
	SLF4JSimple = "/usr/share/java/slf4j-simple.jar"
	// Classpath runs ZooKeeper with its log on the console.
	Classpath = Jar + ":" + SLF4JSimple
)

// Find returns the java binary, or why ZooKeeper cannot run here.
func Find() (java string, why string) {
	java, err := exec.LookPath("java")
	if err != nil {
		return "", "java is not installed (apt-get install zookeeper brings it)"
	}
	for _, f := range []string{Jar, SLF4JSimple} {
		if _, err := os.Stat(f); err != nil {
			return "", fmt.Sprintf("ZooKeeper is not installed: %s is missing (apt-get install zookeeper)", f)
		}
	}
	return java, ""
}
