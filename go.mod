module github.com/redisctl/redisctl

go 1.26.8
